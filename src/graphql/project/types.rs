//! GraphQL types of projects and their members.

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use crate::db::projects::{MemberRow, ProjectRole, ProjectRow};
use crate::error::AppResult;
use crate::graphql::access::project_object;
use crate::graphql::access::{access, loader};
use crate::graphql::account::types::User;
use crate::graphql::common::user;
use crate::graphql::connection::{
    CursorKey, Page, TotalCount, build_page, decode_id_cursor, page_size,
};
use crate::graphql::direct::named_row_leaves;
use crate::graphql::experiment::types::Experiment;
use crate::graphql::ids::to_id;
use crate::graphql::loaders::{ChildPageKey, ExperimentPageKey, MembersKey, ModelPageKey};
use crate::graphql::model::types::Model;

project_object!(Project, ProjectRow, id);

named_row_leaves!(Project);

/// A workspace of experiments and models, shared with its members. Members see it; OWNERs
/// manage its members; ADMINs see every project.
#[Object(serial)]
impl Project {
    /// The project's id.
    async fn id(&self) -> ID {
        to_id(self.row.id)
    }
    /// The project's name, unique across projects, at most 200 characters.
    async fn name(&self) -> &str {
        &self.row.name
    }
    /// What the project is for, at most 10,000 characters.
    async fn description(&self) -> Option<&str> {
        self.row.description.as_deref()
    }
    /// When the project was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When the project's name or description last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
    /// Who created the project (null if that account was deleted).
    async fn created_by(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        user(ctx, self.seen, self.row.created_by).await
    }
    /// The caller's role; null for an ADMIN who is not a member.
    async fn my_role(&self, ctx: &Context<'_>) -> AppResult<Option<ProjectRole>> {
        Ok(access(ctx, self.row.id).await?.role)
    }
    /// Everyone with a role in the project, in the order they joined.
    async fn members(&self, ctx: &Context<'_>) -> AppResult<Vec<ProjectMember>> {
        let rows = loader(ctx)
            .load_one(MembersKey(self.row.id))
            .await?
            .unwrap_or_default();
        rows.into_iter()
            .map(|row| ProjectMember::new(row, self.seen))
            .collect()
    }
    /// The project's experiments, oldest first.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn experiments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100; 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the page before.")] after: Option<String>,
    ) -> AppResult<Page<Experiment>> {
        let limit = page_size(first)?;
        let after = decode_id_cursor(after.as_deref())?;
        let key = ChildPageKey {
            parent: self.row.id,
            after,
            limit: limit as i64 + 1,
        };
        let rows = loader(ctx)
            .load_one(ExperimentPageKey(key))
            .await?
            .unwrap_or_default();
        build_page(
            rows,
            limit,
            after.is_some(),
            TotalCount::ExperimentsOf(self.row.id),
            |e| CursorKey::Id(e.id),
            |row| Experiment::new(row, self.seen),
        )
    }
    /// The project's registered models, oldest first.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn models(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100; 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the page before.")] after: Option<String>,
    ) -> AppResult<Page<Model>> {
        let limit = page_size(first)?;
        let after = decode_id_cursor(after.as_deref())?;
        let key = ChildPageKey {
            parent: self.row.id,
            after,
            limit: limit as i64 + 1,
        };
        let rows = loader(ctx)
            .load_one(ModelPageKey(key))
            .await?
            .unwrap_or_default();
        build_page(
            rows,
            limit,
            after.is_some(),
            TotalCount::ModelsOf(self.row.id),
            |m| CursorKey::Id(m.id),
            |row| Model::new(row, self.seen),
        )
    }
}

project_object!(ProjectMember, MemberRow, project_id);

/// A user's role in a project.
#[Object]
impl ProjectMember {
    /// The member (null if the account was deleted).
    async fn user(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        user(ctx, self.seen, Some(self.row.user_id)).await
    }
    /// What the member may do: VIEWER reads, EDITOR also writes, OWNER also manages members.
    async fn role(&self) -> ProjectRole {
        self.row.role
    }
    /// When the member was added.
    async fn added_at(&self) -> DateTime<Utc> {
        self.row.added_at
    }
}

/// A new project; its creator becomes its OWNER.
#[derive(InputObject)]
pub struct CreateProjectInput {
    /// Unique across projects, 1 to 200 characters.
    pub name: String,
    /// What the project is for, at most 10,000 characters.
    pub description: Option<String>,
}

/// Changes to a project; omitted fields keep their value.
#[derive(InputObject)]
pub struct UpdateProjectInput {
    /// A new unique name, 1 to 200 characters.
    pub name: Option<String>,
    /// A new description, at most 10,000 characters.
    pub description: Option<String>,
}

/// Filter of the project list.
#[derive(InputObject, Default)]
pub struct ProjectFilter {
    /// Case-insensitive substring of the name or description.
    pub search: Option<String>,
}

/// A new member of a project (OWNERs only).
#[derive(InputObject)]
pub struct AddProjectMemberInput {
    /// The project's id.
    pub project_id: ID,
    /// The email of an existing account.
    pub email: String,
    /// The role to give.
    pub role: ProjectRole,
}

/// A new role for a member (OWNERs only; a project keeps at least one OWNER).
#[derive(InputObject)]
pub struct UpdateProjectMemberInput {
    /// The project's id.
    pub project_id: ID,
    /// The member's user id.
    pub user_id: ID,
    /// The role to give.
    pub role: ProjectRole,
}
