//! A live model registry: versions created, stages changed, aliases moved.

use async_graphql::{Context, Enum, ID, SimpleObject, Subscription};
use futures_util::Stream;

use crate::db;
use crate::error::AppError;
use crate::events::{Event, ModelChange, Topic};
use crate::graphql::context::state;
use crate::graphql::ids;
use crate::graphql::live::follow;
use crate::graphql::model::query::visible_model;
use crate::graphql::model::types::ModelVersion;

#[derive(Default)]
pub struct ModelSubscription;

/// What happened in the model.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ModelEventKind {
    /// A version was registered.
    VersionCreated,
    /// A version moved to another stage (and perhaps archived the previous PRODUCTION).
    StageChanged,
    /// An alias was set on, or moved to, a version.
    AliasSet,
    /// An alias was deleted.
    AliasDeleted,
}

/// A change in a model.
#[derive(SimpleObject)]
pub struct ModelEvent {
    /// What happened.
    pub kind: ModelEventKind,
    /// The version concerned, as it is now (null for a deleted alias's former version
    /// when that version is gone).
    pub version: Option<ModelVersion>,
    /// The alias concerned, for alias events.
    pub alias: Option<String>,
}

#[Subscription]
impl ModelSubscription {
    /// Versions created, stage changes, aliases set and deleted. NOT_FOUND for a model you
    /// cannot see; ends when you lose access to its project.
    async fn model_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The model's id.")] model_id: ID,
    ) -> Result<impl Stream<Item = async_graphql::Result<ModelEvent>> + use<>, AppError> {
        let id = ids::parse("modelId", &model_id)?;
        let model = visible_model(ctx, id)
            .await?
            .ok_or_else(|| AppError::not_found("model"))?;
        let db = state(ctx).db.clone();
        let seen = model.seen();
        follow(
            ctx,
            Topic::Model(id),
            model.row().project_id,
            move |event| {
                let db = db.clone();
                async move {
                    let Event::Model {
                        version_id,
                        alias,
                        change,
                    } = &*event
                    else {
                        return Ok(None);
                    };
                    let version = match version_id {
                        Some(v) => db::models::find_versions(&db, &[*v])
                            .await?
                            .pop()
                            .map(|row| ModelVersion::new(row, seen))
                            .transpose()?,
                        None => None,
                    };
                    let kind = match change {
                        ModelChange::VersionCreated => ModelEventKind::VersionCreated,
                        ModelChange::StageChanged => ModelEventKind::StageChanged,
                        ModelChange::AliasSet => ModelEventKind::AliasSet,
                        ModelChange::AliasDeleted => ModelEventKind::AliasDeleted,
                    };
                    Ok(Some(ModelEvent {
                        kind,
                        version,
                        alias: alias.clone(),
                    }))
                }
            },
        )
    }
}
