//! Authorization inside the graph: every object is built only for a caller who may see
//! its project, and every write checks the caller's role. A project the caller cannot
//! see is indistinguishable from one that does not exist.
//!
//! The compiler keeps the first promise: the objects of a project (`Project`, `Experiment`,
//! `Run`, `Model`, `ModelVersion`, `Artifact`, …) have private fields and one constructor,
//! which takes a `Readable`, and a `Readable` is made only here, by the checks below.

use std::collections::HashMap;

use async_graphql::Context;
use futures_util::future::try_join_all;
use uuid::Uuid;

use crate::db::projects::{ProjectRole, ProjectRow};
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

/// Proof that the caller may read one project. Only this module makes one (after the
/// check); objects of the project keep theirs, so their children are built with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readable(Uuid);

impl Readable {
    /// The project this proof is for.
    pub fn project_id(self) -> Uuid {
        self.0
    }

    /// Refuses a row of another project: a bug in the caller, answered as an internal
    /// error instead of showing the row.
    pub fn covers(self, project_id: Uuid) -> AppResult<()> {
        if self.0 == project_id {
            Ok(())
        } else {
            Err(AppError::from(anyhow::anyhow!(
                "an object of project {project_id} was about to be built with the access proof of project {}",
                self.0
            )))
        }
    }
}

/// Declares a graph object over a row of one project: private fields, and a single
/// constructor that takes a `Readable` for the row's project (`$project` names the row's
/// project id field).
macro_rules! project_object {
    ($name:ident, $row:ty, $project:ident) => {
        pub struct $name {
            row: $row,
            seen: $crate::graphql::access::Readable,
        }

        impl $name {
            /// The object, for a caller `seen` lets read the row's project.
            pub fn new(
                row: $row,
                seen: $crate::graphql::access::Readable,
            ) -> $crate::error::AppResult<Self> {
                seen.covers(row.$project)?;
                Ok(Self { row, seen })
            }

            pub fn row(&self) -> &$row {
                &self.row
            }

            /// The proof it was built with, for its children.
            pub fn seen(&self) -> $crate::graphql::access::Readable {
                self.seen
            }
        }
    };
}
pub(crate) use project_object;

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

/// A proof that the caller may read the project, or `None`. ADMINs read every project
/// without a lookup.
pub async fn readable(ctx: &Context<'_>, project_id: Uuid) -> AppResult<Option<Readable>> {
    if principal(ctx)?.is_admin() {
        return Ok(Some(Readable(project_id)));
    }
    Ok(access(ctx, project_id)
        .await?
        .can_read()
        .then_some(Readable(project_id)))
}

/// Proofs for each of these projects the caller may read (one batched lookup).
pub async fn readable_many(
    ctx: &Context<'_>,
    project_ids: impl IntoIterator<Item = Uuid>,
) -> AppResult<HashMap<Uuid, Readable>> {
    let ids: Vec<Uuid> = project_ids.into_iter().collect();
    if principal(ctx)?.is_admin() {
        return Ok(ids.into_iter().map(|id| (id, Readable(id))).collect());
    }
    let l = loader(ctx);
    // Asked together, the roles load in one batch.
    let roles = try_join_all(ids.iter().map(|id| l.load_one(ProjectRoleKey(*id)))).await?;
    Ok(ids
        .into_iter()
        .zip(roles)
        .filter(|(_, role)| role.is_some())
        .map(|(id, _)| (id, Readable(id)))
        .collect())
}

/// A listing query returned a row of a project the caller may not read: a bug in its SQL,
/// answered as an internal error instead of showing the row.
pub fn not_listed() -> AppError {
    AppError::from(anyhow::anyhow!(
        "a listing returned an object of a project the caller may not read"
    ))
}

/// The proof for a project the caller has just created (and so owns): the request's
/// role cache predates it.
pub fn created_by_caller(ctx: &Context<'_>, project: &ProjectRow) -> AppResult<Readable> {
    let caller = principal(ctx)?.user_id;
    if project.created_by != Some(caller) {
        return Err(AppError::from(anyhow::anyhow!(
            "project {} was not created by the caller",
            project.id
        )));
    }
    Ok(Readable(project.id))
}

/// Refuses unless the caller has at least `needed` in the project: NOT_FOUND when they
/// cannot even see it (`what` names the thing asked for), FORBIDDEN otherwise. Any role
/// reads, so what it gives back is also the proof to build the project's objects.
pub async fn require(
    ctx: &Context<'_>,
    project_id: Uuid,
    needed: ProjectRole,
    what: &str,
) -> AppResult<Readable> {
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
    Ok(Readable(project_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_covers_its_own_project_only() {
        let mine = Uuid::now_v7();
        let proof = Readable(mine);
        assert!(proof.covers(mine).is_ok());
        let err = proof.covers(Uuid::now_v7()).unwrap_err();
        assert_eq!(err.code(), crate::error::code::INTERNAL_SERVER_ERROR);
    }
}
