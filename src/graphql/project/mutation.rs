//! Writes of projects and their members.

use async_graphql::{Context, ID, Object};

use crate::db;
use crate::db::audit::{AuditKind, NewEvent};
use crate::db::projects::{MembershipChange, ProjectRole};
use crate::error::{AppError, AppResult};
use crate::graphql::access::{created_by_caller, require};
use crate::graphql::admin::record;
use crate::graphql::context::{principal, state};
use crate::graphql::ids;
use crate::graphql::project::types::{
    AddProjectMemberInput, CreateProjectInput, Project, ProjectMember, UpdateProjectInput,
    UpdateProjectMemberInput,
};
use crate::validate;

#[derive(Default)]
pub struct ProjectMutation;

#[Object]
impl ProjectMutation {
    /// Creates a project; you become its OWNER.
    async fn create_project(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new project.")] input: CreateProjectInput,
    ) -> AppResult<Project> {
        let p = principal(ctx)?;
        let name = validate::name("name", &input.name)?;
        let description = validate::description("description", input.description.as_deref())?;
        let row =
            db::projects::insert(&state(ctx).db, &name, description.as_deref(), p.user_id).await?;
        state(ctx).credentials.forget_user(p.user_id);
        let seen = created_by_caller(ctx, &row)?;
        Project::new(row, seen)
    }

    /// Renames or describes a project (OWNER).
    async fn update_project(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The project's id.")] id: ID,
        #[graphql(desc = "What to change.")] input: UpdateProjectInput,
    ) -> AppResult<Project> {
        let id = ids::parse("id", &id)?;
        let seen = require(ctx, id, ProjectRole::Owner, "project").await?;
        let name = input
            .name
            .as_deref()
            .map(|n| validate::name("name", n))
            .transpose()?;
        let description = validate::description("description", input.description.as_deref())?;
        let row = db::projects::update(&state(ctx).db, id, name.as_deref(), description.as_deref())
            .await?
            .ok_or_else(|| AppError::not_found("project"))?;
        Project::new(row, seen)
    }

    /// Deletes a project and everything in it, in one transaction (OWNER).
    async fn delete_project(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The project's id.")] id: ID,
    ) -> AppResult<bool> {
        let id = ids::parse("id", &id)?;
        require(ctx, id, ProjectRole::Owner, "project").await?;
        if !db::projects::delete(&state(ctx).db, id).await? {
            return Err(AppError::not_found("project"));
        }
        // Every member's roles changed; which members they were is gone with the rows.
        state(ctx).credentials.forget_all();
        state(ctx).storage.wake.notify_one();
        Ok(true)
    }

    /// Gives an existing account a role in the project (OWNER).
    async fn add_project_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Who and with which role.")] input: AddProjectMemberInput,
    ) -> AppResult<ProjectMember> {
        let project_id = ids::parse("projectId", &input.project_id)?;
        let seen = require(ctx, project_id, ProjectRole::Owner, "project").await?;
        let email = validate::email("email", &input.email)?;
        let db = &state(ctx).db;
        let user = db::users::find_by_email(db, &email).await?.ok_or_else(|| {
            AppError::validation(
                "email",
                "no account has this email: ask them to register first",
            )
        })?;
        let row = db::projects::add_member(db, project_id, user.id, input.role).await?;
        state(ctx).credentials.forget_user(user.id);
        let summary = format!("{} added as {}", user.email, db::enum_name(row.role));
        let event = NewEvent::new(AuditKind::MemberAdded, summary)
            .by(principal(ctx)?.user_id)
            .on(user.id)
            .in_project(project_id);
        record(ctx, event).await;
        ProjectMember::new(row, seen)
    }

    /// Changes a member's role (OWNER). The last OWNER cannot be demoted.
    async fn update_project_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Who and the new role.")] input: UpdateProjectMemberInput,
    ) -> AppResult<ProjectMember> {
        let project_id = ids::parse("projectId", &input.project_id)?;
        let user_id = ids::parse("userId", &input.user_id)?;
        let seen = require(ctx, project_id, ProjectRole::Owner, "project").await?;
        match db::projects::change_member(&state(ctx).db, project_id, user_id, Some(input.role))
            .await?
        {
            MembershipChange::Changed(Some(row)) => {
                state(ctx).credentials.forget_user(user_id);
                let summary = format!("role now {}", db::enum_name(row.role));
                let event = NewEvent::new(AuditKind::MemberRoleChanged, summary)
                    .by(principal(ctx)?.user_id)
                    .on(user_id)
                    .in_project(project_id);
                record(ctx, event).await;
                ProjectMember::new(row, seen)
            }
            MembershipChange::Changed(None) | MembershipChange::NotAMember => {
                Err(AppError::not_found("member"))
            }
            MembershipChange::LastOwner => Err(last_owner()),
        }
    }

    /// Removes a member (OWNER), or lets any member leave. The last OWNER cannot leave.
    async fn remove_project_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The project's id.")] project_id: ID,
        #[graphql(desc = "The member's user id (yours to leave).")] user_id: ID,
    ) -> AppResult<bool> {
        let project_id = ids::parse("projectId", &project_id)?;
        let user_id = ids::parse("userId", &user_id)?;
        let p = principal(ctx)?;
        if user_id == p.user_id {
            require(ctx, project_id, ProjectRole::Viewer, "project").await?;
        } else {
            require(ctx, project_id, ProjectRole::Owner, "project").await?;
        }
        match db::projects::change_member(&state(ctx).db, project_id, user_id, None).await? {
            MembershipChange::Changed(_) => {
                state(ctx).credentials.forget_user(user_id);
                let summary = if user_id == p.user_id {
                    "left the project"
                } else {
                    "removed from the project"
                };
                let event = NewEvent::new(AuditKind::MemberRemoved, summary)
                    .by(p.user_id)
                    .on(user_id)
                    .in_project(project_id);
                record(ctx, event).await;
                Ok(true)
            }
            MembershipChange::NotAMember => Err(AppError::not_found("member")),
            MembershipChange::LastOwner => Err(last_owner()),
        }
    }
}

fn last_owner() -> AppError {
    AppError::Conflict("a project needs an OWNER: make another member OWNER first".into())
}
