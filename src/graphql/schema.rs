//! The one place the schema is assembled, used by `serve`, `print-schema` and the tests.

use async_graphql::{EmptySubscription, MergedObject, Schema, SchemaBuilder};

use crate::graphql::account::{mutation::AccountMutation, query::AccountQuery};
use crate::graphql::artifact::{mutation::ArtifactMutation, query::ArtifactQuery};
use crate::graphql::experiment::{mutation::ExperimentMutation, query::ExperimentQuery};
use crate::graphql::gate::Gate;
use crate::graphql::limits;
use crate::graphql::model::{mutation::ModelMutation, query::ModelQuery};
use crate::graphql::project::{mutation::ProjectMutation, query::ProjectQuery};
use crate::graphql::run::{mutation::RunMutation, query::RunQuery};
use crate::state::AppState;

#[derive(MergedObject, Default)]
pub struct Query(
    AccountQuery,
    ProjectQuery,
    ExperimentQuery,
    RunQuery,
    ModelQuery,
    ArtifactQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    AccountMutation,
    ProjectMutation,
    ExperimentMutation,
    RunMutation,
    ModelMutation,
    ArtifactMutation,
);

pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

fn builder(production: bool) -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    let builder = Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_complexity(limits::MAX_COMPLEXITY)
        .limit_directives(limits::MAX_DIRECTIVES)
        .limit_recursive_depth(limits::MAX_RECURSIVE_DEPTH)
        .extension(Gate {
            open_introspection: !production,
        });
    if production {
        builder.disable_suggestions()
    } else {
        builder
    }
}

/// The schema with the application state attached.
pub fn build_schema(state: AppState) -> AppSchema {
    builder(state.config.is_production()).data(state).finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    builder(false).finish().sdl()
}
