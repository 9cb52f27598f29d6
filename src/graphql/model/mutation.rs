//! Writes of the model registry (EDITOR and above).

use async_graphql::{Context, ID, Object};

use uuid::Uuid;

use crate::db;
use crate::db::audit::{AuditKind, NewEvent};
use crate::db::models::ModelStage;
use crate::db::projects::ProjectRole;
use crate::error::{AppError, AppResult};
use crate::events::{Event, ModelChange, Topic};
use crate::graphql::access::require;
use crate::graphql::admin::record;
use crate::graphql::common::tag_map;
use crate::graphql::context::{principal, state};
use crate::graphql::ids;
use crate::graphql::model::query::{visible_model, visible_version};
use crate::graphql::model::types::{
    CreateModelInput, CreateModelVersionInput, Model, ModelVersion, UpdateModelInput,
};
use crate::graphql::run::query::visible_run;
use crate::validate;

#[derive(Default)]
pub struct ModelMutation;

#[Object]
impl ModelMutation {
    /// Registers a model in a project (EDITOR or OWNER).
    async fn create_model(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new model.")] input: CreateModelInput,
    ) -> AppResult<Model> {
        let project_id = ids::parse("projectId", &input.project_id)?;
        let seen = require(ctx, project_id, ProjectRole::Editor, "project").await?;
        let name = validate::name("name", &input.name)?;
        let description = validate::description("description", input.description.as_deref())?;
        let tags = tag_map("tags", &input.tags)?;
        let row = db::models::insert(
            &state(ctx).db,
            project_id,
            &name,
            description.as_deref(),
            &tags,
            principal(ctx)?.user_id,
        )
        .await?;
        Model::new(row, seen)
    }

    /// Renames, describes or retags a model (EDITOR or OWNER).
    async fn update_model(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The model's id.")] id: ID,
        #[graphql(desc = "What to change.")] input: UpdateModelInput,
    ) -> AppResult<Model> {
        let model = editable_model(ctx, "id", &id).await?;
        let name = input
            .name
            .as_deref()
            .map(|n| validate::name("name", n))
            .transpose()?;
        let description = validate::description("description", input.description.as_deref())?;
        let tags = input
            .tags
            .as_deref()
            .map(|t| tag_map("tags", t))
            .transpose()?;
        let row = db::models::update(
            &state(ctx).db,
            model.row().id,
            name.as_deref(),
            description.as_deref(),
            tags.as_ref(),
        )
        .await?
        .ok_or_else(|| AppError::not_found("model"))?;
        Model::new(row, model.seen())
    }

    /// Deletes a model with its versions and aliases, in one transaction.
    async fn delete_model(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The model's id.")] id: ID,
    ) -> AppResult<bool> {
        let model = editable_model(ctx, "id", &id).await?;
        let deleted = db::models::delete(&state(ctx).db, model.row().id).await?;
        state(ctx).storage.wake.notify_one();
        Ok(deleted)
    }

    /// Registers the next version of a model (numbers 1, 2, 3 … without gaps, even under
    /// concurrent calls). The source run must be one you can read.
    async fn create_model_version(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new version.")] input: CreateModelVersionInput,
    ) -> AppResult<ModelVersion> {
        let model = editable_model(ctx, "modelId", &input.model_id).await?;
        let source_run_id = match &input.source_run_id {
            Some(id) => {
                let id = ids::parse("sourceRunId", id)?;
                let run = visible_run(ctx, id)
                    .await?
                    .ok_or_else(|| AppError::not_found("run"))?;
                Some(run.row().id)
            }
            None => None,
        };
        let description = validate::description("description", input.description.as_deref())?;
        let row = db::models::create_version(
            &state(ctx).db,
            model.row().id,
            source_run_id,
            description.as_deref(),
            principal(ctx)?.user_id,
        )
        .await?;
        announce(
            ctx,
            row.model_id,
            Some(row.id),
            None,
            ModelChange::VersionCreated,
        )
        .await;
        ModelVersion::new(row, model.seen())
    }

    /// Moves a version to a stage. Promoting to PRODUCTION archives the model's current
    /// PRODUCTION version unless `archiveExisting` is false.
    async fn set_model_version_stage(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The version's id.")] id: ID,
        #[graphql(desc = "The stage to move it to.")] stage: ModelStage,
        #[graphql(
            default = true,
            desc = "When promoting to PRODUCTION, archive the version that is in PRODUCTION now."
        )]
        archive_existing: bool,
    ) -> AppResult<ModelVersion> {
        let version = editable_version(ctx, "id", &id).await?;
        let row = db::models::set_stage(&state(ctx).db, version.row().id, stage, !archive_existing)
            .await?
            .ok_or_else(|| AppError::not_found("model version"))?;
        let summary = format!(
            "version {} → {}{}",
            row.version,
            db::enum_name(stage),
            if stage == ModelStage::Production && archive_existing {
                " (the previous PRODUCTION archived)"
            } else {
                ""
            }
        );
        let event = NewEvent::new(AuditKind::StageChanged, summary)
            .by(principal(ctx)?.user_id)
            .in_project(row.project_id);
        record(ctx, event).await;
        announce(
            ctx,
            row.model_id,
            Some(row.id),
            None,
            ModelChange::StageChanged,
        )
        .await;
        ModelVersion::new(row, version.seen())
    }

    /// Deletes a version (its number is not reused) and the aliases pointing at it.
    async fn delete_model_version(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The version's id.")] id: ID,
    ) -> AppResult<bool> {
        let version = editable_version(ctx, "id", &id).await?;
        let deleted = db::models::delete_version(&state(ctx).db, version.row().id).await?;
        state(ctx).storage.wake.notify_one();
        Ok(deleted)
    }

    /// Points an alias (e.g. `champion`) at a version of the model, moving it if it
    /// pointed elsewhere. The change is recorded in `Model.aliasHistory`.
    async fn set_model_alias(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The model's id.")] model_id: ID,
        #[graphql(
            desc = "1 to 64 lower-case letters, digits, `_` and `-`, starting with a letter; not `latest` nor `v<digits>`."
        )]
        alias: String,
        #[graphql(desc = "The id of a version of this model.")] version_id: ID,
    ) -> AppResult<ModelVersion> {
        let model = editable_model(ctx, "modelId", &model_id).await?;
        validate_alias(&alias)?;
        let version_id = ids::parse("versionId", &version_id)?;
        let version = visible_version(ctx, version_id)
            .await?
            .filter(|v| v.row().model_id == model.row().id)
            .ok_or_else(|| AppError::validation("versionId", "not a version of this model"))?;
        db::models::set_alias(
            &state(ctx).db,
            model.row().id,
            &alias,
            version.row().id,
            principal(ctx)?.user_id,
        )
        .await?;
        let summary = format!(
            "{}: alias {alias} → version {}",
            model.row().name,
            version.row().version
        );
        let event = NewEvent::new(AuditKind::AliasSet, summary)
            .by(principal(ctx)?.user_id)
            .in_project(model.row().project_id);
        record(ctx, event).await;
        let (model_id, version_id) = (model.row().id, Some(version.row().id));
        announce(
            ctx,
            model_id,
            version_id,
            Some(alias),
            ModelChange::AliasSet,
        )
        .await;
        // Read again: the version's row carries its aliases, the new one among them.
        let row = db::models::find_versions(&state(ctx).db, &[version.row().id])
            .await?
            .pop()
            .ok_or_else(|| AppError::not_found("version"))?;
        ModelVersion::new(row, version.seen())
    }

    /// Removes an alias; the removal is recorded in `Model.aliasHistory`.
    async fn delete_model_alias(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The model's id.")] model_id: ID,
        #[graphql(desc = "The alias to remove.")] alias: String,
    ) -> AppResult<bool> {
        let model = editable_model(ctx, "modelId", &model_id).await?;
        if !db::models::delete_alias(
            &state(ctx).db,
            model.row().id,
            &alias,
            principal(ctx)?.user_id,
        )
        .await?
        {
            return Err(AppError::not_found("alias"));
        }
        let summary = format!("{}: alias {alias} deleted", model.row().name);
        let event = NewEvent::new(AuditKind::AliasDeleted, summary)
            .by(principal(ctx)?.user_id)
            .in_project(model.row().project_id);
        record(ctx, event).await;
        announce(
            ctx,
            model.row().id,
            None,
            Some(alias),
            ModelChange::AliasDeleted,
        )
        .await;
        Ok(true)
    }
}

/// Tells the model's subscribers, after the write committed.
async fn announce(
    ctx: &Context<'_>,
    model_id: Uuid,
    version_id: Option<Uuid>,
    alias: Option<String>,
    change: ModelChange,
) {
    let event = Event::Model {
        version_id,
        alias,
        change,
    };
    state(ctx)
        .events
        .publish(Topic::Model(model_id), event)
        .await;
}

/// Aliases: 1–64 characters of lower-case letters, digits, `_` and `-`, starting with a
/// letter; not `latest` nor `v` followed by digits, which read as version references.
fn validate_alias(alias: &str) -> AppResult<()> {
    let ok_chars = alias
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    let starts = alias.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    let reserved = alias == "latest"
        || (alias.len() > 1
            && alias.starts_with('v')
            && alias[1..].chars().all(|c| c.is_ascii_digit()));
    if alias.is_empty() || alias.len() > 64 || !ok_chars || !starts || reserved {
        return Err(AppError::validation(
            "alias",
            "an alias is 1–64 lower-case letters, digits, `_` or `-`, starts with a letter, and is not `latest` or `v<number>`",
        ));
    }
    Ok(())
}

async fn editable_model(ctx: &Context<'_>, field: &str, id: &ID) -> AppResult<Model> {
    let id = ids::parse(field, id)?;
    let model = visible_model(ctx, id)
        .await?
        .ok_or_else(|| AppError::not_found("model"))?;
    require(ctx, model.row().project_id, ProjectRole::Editor, "model").await?;
    Ok(model)
}

async fn editable_version(ctx: &Context<'_>, field: &str, id: &ID) -> AppResult<ModelVersion> {
    let id = ids::parse(field, id)?;
    let version = visible_version(ctx, id)
        .await?
        .ok_or_else(|| AppError::not_found("model version"))?;
    require(
        ctx,
        version.row().project_id,
        ProjectRole::Editor,
        "model version",
    )
    .await?;
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::validate_alias;

    #[test]
    fn aliases_are_checked() {
        for ok in ["champion", "prod-eu_1", "a"] {
            assert!(validate_alias(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Champion",
            "1st",
            "latest",
            "v3",
            "has space",
            &"a".repeat(65),
        ] {
            assert!(validate_alias(bad).is_err(), "{bad}");
        }
    }
}
