//! The one place the schema is assembled, used by `serve`, `print-schema` and the tests.

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};

use crate::graphql::account::{mutation::AccountMutation, query::AccountQuery};
use crate::graphql::admin::query::AdminQuery;
use crate::graphql::artifact::{mutation::ArtifactMutation, query::ArtifactQuery};
use crate::graphql::experiment::{
    mutation::ExperimentMutation, query::ExperimentQuery, subscription::ExperimentSubscription,
};
use crate::graphql::limits;
use crate::graphql::model::{
    mutation::ModelMutation, query::ModelQuery, subscription::ModelSubscription,
};
use crate::graphql::project::{mutation::ProjectMutation, query::ProjectQuery};
use crate::graphql::run::{mutation::RunMutation, query::RunQuery, subscription::RunSubscription};
use crate::state::AppState;

/// Reads. Anything you cannot see answers null (or is left out of a list), whether or not
/// it exists.
#[derive(MergedObject, Default)]
pub struct Query(
    AccountQuery,
    ProjectQuery,
    ExperimentQuery,
    RunQuery,
    ModelQuery,
    ArtifactQuery,
    AdminQuery,
);

/// Writes. Each one is all or nothing; API tokens need the WRITE scope.
#[derive(MergedObject, Default)]
pub struct Mutation(
    AccountMutation,
    ProjectMutation,
    ExperimentMutation,
    RunMutation,
    ModelMutation,
    ArtifactMutation,
);

/// Live events over the `graphql-transport-ws` protocol at `/graphql/ws`.
#[derive(MergedSubscription, Default)]
pub struct Subscription(RunSubscription, ExperimentSubscription, ModelSubscription);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

fn builder(production: bool) -> SchemaBuilder<Query, Mutation, Subscription> {
    let builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_complexity(limits::MAX_COMPLEXITY)
    .limit_directives(limits::MAX_DIRECTIVES)
    .limit_recursive_depth(limits::MAX_RECURSIVE_DEPTH);
    if production {
        builder.disable_suggestions()
    } else {
        builder
    }
}

/// The schema with the application state attached. When traces are exported, each
/// operation gets spans for its parsing, validation, execution and every resolved field
/// (a cost paid only then).
pub fn build_schema(state: AppState) -> AppSchema {
    let builder = builder(state.config.is_production());
    let builder = if state.config.otel_endpoint.is_some() {
        builder
            .extension(async_graphql::extensions::Tracing)
            .data(crate::graphql::direct::FieldsTraced)
    } else {
        builder
    };
    builder.data(state).finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    builder(false).finish().sdl()
}
