//! Authorization inside the graph: every object is built only for a caller who may see
//! its project, and every write checks the caller's role. A project the caller cannot
//! see is indistinguishable from one that does not exist.

use async_graphql::Context;
use uuid::Uuid;

use crate::db::projects::ProjectRole;
use crate::error::{AppError, AppResult};
use crate::graphql::context::principal;
use crate::graphql::loaders::{ProjectRoleKey, RequestLoader};

/// What the caller may do in one project.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    pub admin: bool,
    pub role: Option<ProjectRole>,
}

impl Access {
    pub fn can_read(self) -> bool {
        self.admin || self.role.is_some()
    }

    pub fn has(self, needed: ProjectRole) -> bool {
        self.admin || self.role.is_some_and(|r| r >= needed)
    }
}

pub fn loader<'a>(ctx: &Context<'a>) -> &'a RequestLoader {
    ctx.data_unchecked::<RequestLoader>()
}

/// The caller's access to a project (one batched lookup per request and project).
pub async fn access(ctx: &Context<'_>, project_id: Uuid) -> AppResult<Access> {
    let p = principal(ctx)?;
    let role = loader(ctx).load_one(ProjectRoleKey(project_id)).await?;
    Ok(Access {
        admin: p.is_admin(),
        role,
    })
}

pub async fn can_read(ctx: &Context<'_>, project_id: Uuid) -> AppResult<bool> {
    Ok(access(ctx, project_id).await?.can_read())
}

/// Refuses unless the caller has at least `needed` in the project: NOT_FOUND when they
/// cannot even see it (`what` names the thing asked for), FORBIDDEN otherwise.
pub async fn require(
    ctx: &Context<'_>,
    project_id: Uuid,
    needed: ProjectRole,
    what: &str,
) -> AppResult<()> {
    let access = access(ctx, project_id).await?;
    if !access.can_read() {
        return Err(AppError::not_found(what));
    }
    if !access.has(needed) {
        let role = match needed {
            ProjectRole::Viewer => "VIEWER",
            ProjectRole::Editor => "EDITOR",
            ProjectRole::Owner => "OWNER",
        };
        return Err(AppError::Forbidden(format!(
            "this needs the {role} role in the project: ask a project owner"
        )));
    }
    Ok(())
}
