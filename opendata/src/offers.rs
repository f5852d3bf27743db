//! What each dataset offers for download, with the size of each file when it is known: the
//! files of its collections from the download cache ([`crate::cache::sizes`]) and the files of
//! its imagery epochs from the imagery folder ([`crate::imagery::files`]), and — for a dataset
//! with a collection on the map — the city map's tile archive ([`crate::archive`]), which holds
//! that collection among the others. The dataset pages, the DCAT catalog and the CKAN API show
//! this one list.

use std::collections::HashMap;
use std::path::PathBuf;

use stadtkarte_core::AppState;
use stadtkarte_core::catalog::{self, Collection};
use stadtkarte_core::db::DbError;
use stadtkarte_core::imagery::{self, EpochRow};
use stadtkarte_core::tokio_postgres::GenericClient;

use crate::cache::{self, DownloadCache};
use crate::formats::{Format, GEOTIFF, PMTILES};
use crate::imagery::EpochFile;
use crate::registry::Dataset;

/// One file to download.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// File name in the download URL, e.g. `poi.geojson` or `luftbild-2020.tif`.
    pub file: String,
    /// The collection or epoch it comes from.
    pub source: String,
    /// A title for lists, e.g. "poi (GeoJSON)" or "Luftbild 2020, Teil 1 (`GeoTIFF`)".
    pub title: String,
    /// Its format.
    pub format: &'static Format,
    /// Its size in bytes; `None` while it is being prepared.
    pub bytes: Option<u64>,
    /// Last change of its data (RFC 3339).
    pub modified: String,
    /// For an imagery file: which level of which part it is.
    pub level: Option<EpochFile>,
}

impl Offer {
    /// The download's path, e.g. `/opendata/orte/poi.geojson`; the tile archive, which
    /// belongs to no single dataset, is `/opendata/stadtkarte.pmtiles`.
    #[must_use]
    pub fn path(&self, dataset: &str) -> String {
        if self.format == &PMTILES {
            return format!("/opendata/{}", self.file);
        }
        format!("/opendata/{dataset}/{}", self.file)
    }
}

/// The collections and epochs of the catalog, to list the offers of datasets.
#[derive(Debug)]
pub struct Offers {
    cache: DownloadCache,
    imagery_dir: PathBuf,
    collections: HashMap<String, Collection>,
    epochs: HashMap<String, EpochRow>,
    /// The tile archive's offer, and the collections it holds.
    archive: Option<(Offer, Vec<String>)>,
}

impl Offers {
    /// Reads the catalog's collections and epochs.
    pub async fn load(state: &AppState, client: &impl GenericClient) -> Result<Self, DbError> {
        let cache = DownloadCache::new(&state.config);
        let all = catalog::list(client).await?;
        let archive = crate::archive::version(&all).map(|_| {
            let offer = Offer {
                file: crate::archive::FILE.to_owned(),
                source: "stadtkarte".to_owned(),
                title: format!("Stadtkarte, alle Kartenebenen ({})", PMTILES.name),
                format: &PMTILES,
                bytes: crate::archive::size(&cache, &all),
                modified: crate::archive::modified(&all),
                level: None,
            };
            let ids = crate::archive::collections(&all)
                .iter()
                .map(|c| c.id.clone())
                .collect();
            (offer, ids)
        });
        Ok(Self {
            cache,
            imagery_dir: crate::imagery::dir(state),
            archive,
            collections: all.into_iter().map(|c| (c.id.clone(), c)).collect(),
            epochs: imagery::list(client)
                .await?
                .into_iter()
                .map(|e| (e.id.clone(), e))
                .collect(),
        })
    }

    /// The epochs of `d`, in its order.
    #[must_use]
    pub fn epochs(&self, d: &Dataset) -> Vec<&EpochRow> {
        d.imagery
            .iter()
            .filter_map(|id| self.epochs.get(id))
            .collect()
    }

    /// Every file `d` offers: per collection each vector format, then per epoch its files.
    #[must_use]
    pub fn of(&self, d: &Dataset) -> Vec<Offer> {
        let mut out = Vec::new();
        for c in d
            .collections
            .iter()
            .filter_map(|id| self.collections.get(id))
        {
            for (format, bytes) in cache::sizes(&self.cache, c) {
                out.push(Offer {
                    file: format!("{}.{}", c.id, format.ext),
                    source: c.id.clone(),
                    title: format!("{} ({})", c.id, format.name),
                    format,
                    bytes,
                    modified: c.updated_at.clone(),
                    level: None,
                });
            }
        }
        if let Some((offer, ids)) = &self.archive
            && d.collections.iter().any(|c| ids.contains(c))
        {
            out.push(offer.clone());
        }
        for e in self.epochs(d) {
            for f in crate::imagery::files(e, &self.imagery_dir) {
                let title = if f.finest() {
                    format!("{} ({})", e.title, GEOTIFF.name)
                } else {
                    format!("{}, Teil {} ({})", e.title, f.part + 1, GEOTIFF.name)
                };
                out.push(Offer {
                    file: format!("{}.{}", f.stem, GEOTIFF.ext),
                    source: e.id.clone(),
                    title,
                    format: &GEOTIFF,
                    bytes: f.bytes,
                    modified: e.updated.clone(),
                    level: Some(f),
                });
            }
        }
        out
    }
}
