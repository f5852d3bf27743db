//! The `stadtkarte` binary: the command line (serve, migrate, demo) and the composition of every
//! crate's router. This is the only crate that knows all the others.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use clap::{Parser, Subcommand};
use stadtkarte_core::auth::{Role, session, throttle, users};
use stadtkarte_core::db::{self, PooledClient, describe_target};
use stadtkarte_core::{AppState, Config, audit, exclusive, http, migrate, ops, pages};
use stadtkarte_importers::demo::{self, DemoOptions};
use stadtkarte_importers::imagery::{self, ImageryImport};
use stadtkarte_importers::vector::{self, VectorImport};
use stadtkarte_importers::xplan::{self, XplanImport};
use stadtkarte_opendata::registry::{self, DatasetInput};

/// Stadtkarte — Web-GIS und Open-Data-Plattform / Web-GIS and open-data platform.
#[derive(Debug, Parser)]
#[command(name = "stadtkarte", version, about)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./stadtkarte.toml when it exists.
    #[arg(long, global = true, env = "STADTKARTE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
enum Command {
    /// Serve the platform over HTTP (migrates the database first).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Import data into the platform.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Manage the open-data datasets (what the open-data portal lists).
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// Staff accounts: add, list, roles, disable, reset the password.
    #[command(subcommand)]
    User(UserCommand),
    /// The revision-safe audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Personal data of citizens (DSGVO): export or delete everything about an e-mail address.
    #[command(subcommand)]
    Privacy(PrivacyCommand),
    /// The Mängelmelder: Open311 API keys, retention.
    #[command(subcommand)]
    Maengel(MaengelCommand),
    /// Generate the demo city of Koblenz and load it (replaces a previous demo city).
    Demo {
        /// Multiply the number of buildings (1 = about 50,000), for benchmarks.
        #[arg(long, default_value_t = 1)]
        scale: u32,
        /// Seed of the random choices; the same seed gives the same city.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Skip the aerial images (three epochs drawn from the city, about half a minute).
        #[arg(long)]
        no_imagery: bool,
        /// Keep the rendered source images of the aerial images in this folder.
        #[arg(long)]
        imagery_sources: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a staff account (the password is asked for, or read from stdin).
    Add {
        /// Sign-in name: the e-mail address.
        email: String,
        /// Name shown to colleagues.
        #[arg(long)]
        name: String,
        /// Role: admin, editor, moderator or triage:DEPARTMENT (repeat for several).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Read the password from the first line of standard input instead of a prompt.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the accounts with their roles.
    List,
    /// Replace the roles of an account (its sessions end).
    SetRoles {
        /// The account's e-mail address.
        email: String,
        /// Role: admin, editor, moderator or triage:DEPARTMENT (repeat; none: no role).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Disable an account (its sessions end), or enable it again.
    Disable {
        /// The account's e-mail address.
        email: String,
        /// Enable it again.
        #[arg(long)]
        enable: bool,
    },
    /// Set a new password (its sessions end; the sign-in lock is lifted).
    ResetPassword {
        /// The account's e-mail address.
        email: String,
        /// Read the password from the first line of standard input instead of a prompt.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum PrivacyCommand {
    /// Everything stored about an e-mail address, as JSON on standard output (Art. 15 DSGVO).
    Export {
        /// The e-mail address.
        #[arg(long)]
        email: String,
    },
    /// Deletes the contact data, unredacted photos and mail of an e-mail address (Art. 17
    /// DSGVO); the reports stay, anonymous.
    Delete {
        /// The e-mail address.
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
enum MaengelCommand {
    /// Open311 API keys of third-party apps (stored as hashes only).
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Applies the retention rule now (the server does it every half minute).
    Retention,
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Makes a key for an app and prints it once.
    Add {
        /// The app's name (lower-case letters, digits, . _ -).
        name: String,
    },
    /// Lists the apps with keys.
    List,
    /// Revokes an app's key.
    Revoke {
        /// The app's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain of the audit log and name the first broken link.
    Verify,
}

#[derive(Debug, Subcommand)]
enum DatasetCommand {
    /// List the datasets.
    List,
    /// Add a dataset.
    Add {
        /// Dataset id (lower-case letters, digits, _ and -).
        id: String,
        #[command(flatten)]
        fields: DatasetFields,
    },
    /// Change the given fields of a dataset.
    Update {
        /// Dataset id.
        id: String,
        #[command(flatten)]
        fields: DatasetFields,
    },
    /// Remove a dataset (its collections stay).
    Remove {
        /// Dataset id.
        id: String,
    },
}

#[derive(Debug, clap::Args)]
struct DatasetFields {
    /// Title (German).
    #[arg(long)]
    title: Option<String>,
    /// Title (English).
    #[arg(long)]
    title_en: Option<String>,
    /// Description (German).
    #[arg(long)]
    description: Option<String>,
    /// Description (English).
    #[arg(long)]
    description_en: Option<String>,
    /// Collection published by the dataset (repeat; replaces the list).
    #[arg(long = "collection")]
    collections: Vec<String>,
    /// Aerial-imagery epoch published by the dataset (repeat; replaces the list).
    #[arg(long = "imagery")]
    imagery: Vec<String>,
    /// Keyword (repeat; replaces the list).
    #[arg(long = "keyword")]
    keywords: Vec<String>,
    /// EU data theme, e.g. TRAN, ENVI, REGI (repeat; replaces the list).
    #[arg(long = "theme")]
    themes: Vec<String>,
    /// Licence: dl-by-de/2.0 (default for new datasets), dl-zero-de/2.0, cc-by/4.0, cc-zero, …
    #[arg(long)]
    license: Option<String>,
    /// The exact attribution text users are to copy.
    #[arg(long)]
    attribution: Option<String>,
    /// Contact e-mail (default: the configured contact e-mail).
    #[arg(long)]
    contact_email: Option<String>,
    /// Update frequency (EU code): ANNUAL, MONTHLY, DAILY, IRREG, …
    #[arg(long)]
    frequency: Option<String>,
    /// Temporal coverage from (YYYY-MM-DD).
    #[arg(long)]
    temporal_start: Option<String>,
    /// Temporal coverage to (YYYY-MM-DD).
    #[arg(long)]
    temporal_end: Option<String>,
    /// Who changes, for the audit log (default: $USER).
    #[arg(long, env = "USER", default_value = "unbekannt")]
    actor: String,
}

impl DatasetFields {
    fn input(self) -> (DatasetInput, String) {
        let list = |v: Vec<String>| (!v.is_empty()).then_some(v);
        (
            DatasetInput {
                title: self.title,
                title_en: self.title_en,
                description: self.description,
                description_en: self.description_en,
                keywords: list(self.keywords),
                themes: list(self.themes),
                license: self.license,
                attribution: self.attribution,
                contact_email: self.contact_email,
                temporal_start: self.temporal_start,
                temporal_end: self.temporal_end,
                accrual_periodicity: self.frequency,
                collections: list(self.collections),
                imagery: list(self.imagery),
                ..DatasetInput::default()
            },
            self.actor,
        )
    }
}

/// The municipality's defaults for new datasets.
#[must_use]
pub fn dataset_defaults(config: &Config) -> registry::Defaults {
    let c = &config.city;
    registry::Defaults {
        publisher_name: c.attribution.clone(),
        publisher_url: Some(c.publisher_url.clone()).filter(|u| !u.is_empty()),
        contact_name: c.contact_name.clone(),
        contact_email: c.contact_email.clone(),
        contributor_id: c.contributor_id.clone(),
        political_geocoding: c.political_geocoding.clone(),
        political_geocoding_level: c.political_geocoding_level.clone(),
    }
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Any vector file GDAL reads (Shapefile, also zipped; GeoPackage; GeoJSON; GML; KML;
    /// FlatGeobuf; CSV with WKT or longitude/latitude columns) into a collection.
    Vector(VectorArgs),
    /// Development plans (Bebauungspläne) from XPlanGML 5.x/6.0 (.gml or XPlanArchiv .zip).
    Xplan(XplanArgs),
    /// Aerial images (any raster GDAL reads, in any CRS) as one epoch of tiled imagery;
    /// several files of different resolution become parts of the same epoch.
    Imagery(ImageryArgs),
}

#[derive(Debug, clap::Args)]
struct ImageryArgs {
    /// The image file(s) of this epoch.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Year of the flight.
    #[arg(long)]
    year: i32,
    /// Epoch id (default: luftbild-YEAR).
    #[arg(long)]
    id: Option<String>,
    /// Title (default: "Luftbild YEAR").
    #[arg(long)]
    title: Option<String>,
    /// Description.
    #[arg(long, default_value = "")]
    description: String,
    /// Where the images come from (e.g. "Landesamt für Vermessung und Geobasisinformation").
    #[arg(long, default_value = "")]
    source: String,
    /// CRS of the images when the file has none, e.g. EPSG:25832.
    #[arg(long)]
    source_srs: Option<String>,
    /// Replace the epoch if it exists.
    #[arg(long)]
    replace: bool,
    /// WebP quality 1–100 (default: imagery.quality).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: Option<u8>,
    #[command(flatten)]
    provenance: Provenance,
}

#[derive(Debug, clap::Args)]
struct XplanArgs {
    /// The .gml file or XPlanArchiv .zip.
    file: PathBuf,
    #[command(flatten)]
    provenance: Provenance,
}

/// Licence, attribution and author of an import.
#[derive(Debug, clap::Args)]
struct Provenance {
    /// Licence of the data (default: city.license).
    #[arg(long)]
    license: Option<String>,
    /// Attribution text (default: city.attribution).
    #[arg(long)]
    attribution: Option<String>,
    /// Who imports, for the audit log (default: $USER).
    #[arg(long, env = "USER", default_value = "unbekannt")]
    actor: String,
}

impl Provenance {
    /// (licence, attribution, actor) with the city's defaults filled in.
    fn resolve(self, config: &Config) -> (String, String, String) {
        (
            self.license.unwrap_or_else(|| config.city.license.clone()),
            self.attribution
                .unwrap_or_else(|| config.city.attribution.clone()),
            self.actor,
        )
    }
}

#[derive(Debug, clap::Args)]
struct VectorArgs {
    /// The file to import.
    file: PathBuf,
    /// Collection id (default: from the file name).
    #[arg(long)]
    collection: Option<String>,
    /// Title of the collection (default: the existing title or the layer name).
    #[arg(long)]
    title: Option<String>,
    /// Description of the collection.
    #[arg(long)]
    description: Option<String>,
    /// Layer to read from a multi-layer source (or dataset in a zip).
    #[arg(long)]
    layer: Option<String>,
    /// CRS of the coordinates when the file has none (or a wrong one), e.g. EPSG:25832.
    #[arg(long)]
    source_srs: Option<String>,
    /// Replace the collection if it exists.
    #[arg(long)]
    replace: bool,
    /// Read and check everything, then change nothing.
    #[arg(long)]
    dry_run: bool,
    /// CSV: column with longitude or easting.
    #[arg(long)]
    x_column: Option<String>,
    /// CSV: column with latitude or northing.
    #[arg(long)]
    y_column: Option<String>,
    /// CSV: column with WKT geometry.
    #[arg(long)]
    wkt_column: Option<String>,
    /// CSV: the type of a column, e.g. `--type plz=text` (text, integer, bigint, double,
    /// boolean, date, timestamp); repeat for several. Default: inferred, only unambiguous
    /// numbers become numbers; a .csvt file beside the CSV is honoured too.
    #[arg(long = "type", value_name = "COLUMN=TYPE", value_parser = parse_column_type)]
    types: Vec<(String, String)>,
    /// CSV: skip malformed rows (each reported with its line) instead of refusing the file.
    #[arg(long)]
    skip_bad_rows: bool,
    #[command(flatten)]
    provenance: Provenance,
}

fn parse_column_type(text: &str) -> Result<(String, String), String> {
    text.rsplit_once('=')
        .map(|(name, kind)| (name.to_owned(), kind.to_owned()))
        .ok_or_else(|| format!("expected COLUMN=TYPE, not {text:?}"))
}

/// Parses the arguments and runs the command. Argument errors print clap's help and exit.
pub fn run(args: impl IntoIterator<Item = OsString>) -> anyhow::Result<()> {
    let cli = Cli::parse_from(args);
    let config_file = cli.config.clone().or_else(|| {
        let default = PathBuf::from("stadtkarte.toml");
        default.is_file().then_some(default)
    });
    let config = Config::load(config_file.as_deref())?;
    stadtkarte_core::telemetry::init_logging(&config.log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve => serve(config).await,
            Command::Migrate => migrate_once(&config).await,
            Command::Demo {
                scale,
                seed,
                no_imagery,
                imagery_sources,
            } => {
                load_demo(&config, DemoOptions { scale, seed }).await?;
                if no_imagery {
                    Ok(())
                } else {
                    load_demo_imagery(&config, seed, imagery_sources).await
                }
            }
            Command::Import(ImportCommand::Vector(args)) => import_vector(&config, args).await,
            Command::Import(ImportCommand::Xplan(args)) => import_xplan(&config, args).await,
            Command::Import(ImportCommand::Imagery(args)) => import_imagery(&config, args).await,
            Command::Dataset(command) => dataset(&config, command).await,
            Command::User(command) => user(&config, command).await,
            Command::Audit(AuditCommand::Verify) => audit_verify(&config).await,
            Command::Privacy(command) => privacy(&config, command).await,
            Command::Maengel(command) => maengel(&config, command).await,
        }
    })
}

/// Every route of the platform, with the shared behaviour around it.
pub fn app(state: AppState) -> Router {
    let router = Router::new()
        .merge(ops::router(state.clone()))
        .merge(pages::router(state.clone()))
        .merge(stadtkarte_ogc_api::router(
            state.clone(),
            stadtkarte_tiles::CONFORMANCE,
            openapi_paths(),
        ))
        .merge(stadtkarte_tiles::router(state.clone()))
        .merge(stadtkarte_opendata::router(state.clone(), tile_archive))
        .merge(stadtkarte_admin::router(state.clone()))
        .merge(stadtkarte_maengelmelder::router(state.clone()))
        .merge(stadtkarte_petitions::router(state.clone()))
        .merge(stadtkarte_mapviewer::router(state.clone()))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            stadtkarte_core::replicas::retry_reads_on_primary,
        ));
    let config = state.config;
    http::finish(router, &config)
}

/// The open-data preparer's way to the tile renderer (the crates do not know each other):
/// writes the PMTiles archive of the collections `ids` into `file`, returns the tile count.
#[must_use]
pub fn tile_archive(
    state: AppState,
    ids: Vec<String>,
    file: std::fs::File,
) -> stadtkarte_opendata::archive::BoxFuture<'static, Result<u64, String>> {
    Box::pin(async move {
        stadtkarte_tiles::archive::write(&state, &ids, file)
            .await
            .map(|s| s.tiles)
            .map_err(|e| e.to_string())
    })
}

/// The OpenAPI paths of the crates other than the OGC API's own.
fn openapi_paths() -> serde_json::Map<String, serde_json::Value> {
    let mut paths = stadtkarte_tiles::openapi::paths();
    paths.extend(stadtkarte_opendata::openapi::paths());
    paths
}

/// Waits until the database answers, then migrates it and marks the state ready. Runs in the
/// background of `serve`, so the server answers `/health` and a 503 `/ready` meanwhile.
pub async fn prepare_database(state: AppState) {
    let target = describe_target(state.config.database.owner_url());
    let interval = Duration::from_secs(state.config.database.retry_interval_secs.max(1));
    // Migrations run as the schemas' owner (database.migration_url), the server as itself.
    let owner = match db::owner_pool(&state.config.database) {
        Ok(pool) => pool,
        Err(e) => {
            tracing::error!(error = %e, "database.migration_url cannot be used");
            return;
        }
    };
    loop {
        let attempt = async {
            let mut client = owner.get().await.map_err(anyhow::Error::from)?;
            let applied = migrate::run(&mut client).await?;
            if state.config.opendata.participation_datasets {
                // Nodes starting together create them once: one after the other, under a lock.
                let tx = client.transaction().await?;
                tx.execute(
                    "SELECT pg_advisory_xact_lock($1)",
                    &[&exclusive::Task::ParticipationDatasets.key()],
                )
                .await?;
                let created =
                    registry::ensure_participation(&*tx, &dataset_defaults(&state.config)).await?;
                tx.commit().await?;
                for id in created {
                    tracing::info!(dataset = id, "open-data dataset created");
                }
            }
            anyhow::Ok(applied)
        };
        match attempt.await {
            Ok(applied) => {
                tracing::info!(database = %target, migrations_applied = applied.len(), "database ready");
                state.mark_migrated();
                return;
            }
            Err(e) => {
                tracing::warn!(
                    database = %target,
                    error = %format!("{e:#}"),
                    "database not reachable or not migratable; retrying in {} s",
                    interval.as_secs()
                );
                tokio::time::sleep(interval).await;
            }
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // Which variable named the database (never the address: it may hold a password).
    let env: Vec<(String, String)> = std::env::vars().collect();
    let source = stadtkarte_core::config::database_url_source(&env);
    tracing::info!(source, "database address taken from {source}");
    let listen = config.server.listen;
    let public = config.base_url();
    let pool = db::pool(&config.database)?;
    let state = AppState::new(config, pool);
    tokio::spawn(prepare_database(state.clone()));
    // One line per read replica: reachable or not (reads go to the primary until it is).
    state.replicas.start_checking(state.pool.clone()).await;
    stadtkarte_maengelmelder::tasks::spawn(state.clone());
    stadtkarte_petitions::tasks::spawn(state.clone());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (server.listen)"))?;
    tracing::info!(%listen, "Stadtkarte serves {public}/ (health {public}/health, ready {public}/ready, metrics {public}/metrics)");
    let server_config = state.config.server.clone();
    stadtkarte_core::serve::serve(listener, app(state), &server_config, shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

async fn connect_and_migrate(config: &Config) -> anyhow::Result<PooledClient> {
    let pool = db::owner_pool(&config.database)?;
    let target = describe_target(config.database.owner_url());
    let key = if config.database.migration_url.is_empty() {
        "database.url"
    } else {
        "database.migration_url"
    };
    let mut client = pool
        .get()
        .await
        .with_context(|| format!("cannot connect to the database at {target} ({key})"))?;
    let applied = migrate::run(&mut client).await?;
    for name in &applied {
        eprintln!("Migration angewendet / applied: {name}");
    }
    Ok(client)
}

async fn migrate_once(config: &Config) -> anyhow::Result<()> {
    drop(connect_and_migrate(config).await?);
    eprintln!("Datenbank ist aktuell / database schema is up to date");
    Ok(())
}

async fn load_demo(config: &Config, options: DemoOptions) -> anyhow::Result<()> {
    let mut client = connect_and_migrate(config).await?;
    eprintln!(
        "Demo-Stadt Koblenz wird geladen (scale {}, seed {}) / loading the demo city",
        options.scale, options.seed
    );
    let summary = demo::load(&mut client, options, |line| eprintln!("{line}")).await?;
    let tx = client.transaction().await?;
    let mut datasets = registry::fill_demo(&*tx, &dataset_defaults(config)).await?;
    registry::link_maengel(&*tx, &dataset_defaults(config), "stadtkarte demo").await?;
    registry::link_petitions(&*tx, &dataset_defaults(config), "stadtkarte demo").await?;
    datasets += 2;
    let staff = seed_demo_staff(&*tx, config).await?;
    let reports = stadtkarte_maengelmelder::demo::sample_reports(&*tx, 120).await?;
    let petitions = stadtkarte_petitions::demo::sample_petitions(&*tx, config).await?;
    tx.commit().await?;
    eprintln!("Mängelmelder: {reports} Beispielmeldungen / example reports");
    eprintln!("Petitionen: {petitions} Beispielpetitionen / example petitions");
    eprintln!(
        "Demo-Konten / demo staff accounts (Passwort / password: demo.staff_password, {:?}):",
        config.demo.staff_password
    );
    for (email, roles) in &staff {
        eprintln!("  {email:<28} {roles}");
    }
    eprintln!(
        "Fertig in {:.1} s: {} Stadtteile, {} Straßen, {} Gebäude, {} Orte von Interesse, {} Bebauungspläne, {datasets} Datensätze",
        summary.elapsed.as_secs_f64(),
        summary.districts,
        summary.streets,
        summary.buildings,
        summary.pois,
        summary.plans
    );
    Ok(())
}

/// Draws the demo city's aerial images (three epochs) and imports them.
async fn load_demo_imagery(
    config: &Config,
    seed: u64,
    keep: Option<PathBuf>,
) -> anyhow::Result<()> {
    let client = connect_and_migrate(config).await?;
    let started = std::time::Instant::now();
    let temp = tempfile::tempdir()?;
    let dir = keep.unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    eprintln!("Luftbilder der Demo-Stadt werden gezeichnet / drawing the demo aerial images");
    let epochs = demo::imagery::render(&client, &dir, seed).await?;
    eprintln!(
        "  gezeichnet in {:.1} s; Kachelpyramiden werden erzeugt",
        started.elapsed().as_secs_f64()
    );
    // The epochs are prepared side by side: GDAL's warp runs on one core per file.
    let mut jobs = tokio::task::JoinSet::new();
    for epoch in epochs {
        let job = ImageryImport {
            files: epoch.parts.clone(),
            id: epoch.id.to_owned(),
            year: epoch.year,
            title: epoch.title.to_owned(),
            description: format!(
                "Synthetisches Luftbild der Demo-Stadt ({}), gezeichnet aus den Demodaten",
                if epoch.gray { "Graustufen" } else { "Farbe" }
            ),
            source: "Stadtkarte-Demo (synthetisch)".to_owned(),
            license: demo::LICENSE.to_owned(),
            attribution: demo::ATTRIBUTION.to_owned(),
            source_srs: None,
            replace: true,
            quality: config.imagery.quality,
            actor: "demo".to_owned(),
            dir: PathBuf::from(&config.imagery.dir),
            progress: false,
        };
        let config = config.clone();
        jobs.spawn(async move {
            let mut client = connect_and_migrate(&config).await?;
            anyhow::Ok(imagery::import(&mut client, job).await?)
        });
    }
    let mut summaries = Vec::new();
    while let Some(done) = jobs.join_next().await {
        summaries.push(done??);
    }
    summaries.sort_by(|a, b| a.id.cmp(&b.id));
    for s in &summaries {
        print_imagery_summary(s);
    }
    let linked = registry::link_demo_imagery(&**client, &dataset_defaults(config)).await?;
    eprintln!(
        "Luftbilder fertig in {:.1} s ({linked} im Datensatz »{}«)",
        started.elapsed().as_secs_f64(),
        registry::DEMO_IMAGERY
    );
    Ok(())
}

async fn import_vector(config: &Config, args: VectorArgs) -> anyhow::Result<()> {
    let mut client = connect_and_migrate(config).await?;
    let job = VectorImport {
        file: args.file,
        collection: args.collection,
        title: args.title,
        description: args.description,
        layer: args.layer,
        source_srs: args.source_srs,
        replace: args.replace,
        dry_run: args.dry_run,
        x_column: args.x_column,
        y_column: args.y_column,
        wkt_column: args.wkt_column,
        types: args.types,
        skip_bad_rows: args.skip_bad_rows,
        license: args.provenance.license,
        attribution: args.provenance.attribution,
        default_license: config.city.license.clone(),
        default_attribution: config.city.attribution.clone(),
        actor: args.provenance.actor,
        storage_srid: config.city.storage_srid,
    };
    let s = vector::import(&mut client, &job).await?;
    print_vector_summary(&s);
    Ok(())
}

/// The summary of a vector import: what was read, stored, repaired and skipped (the numbers
/// add up: read = stored + skipped), what a replace kept and dropped.
fn print_vector_summary(s: &vector::VectorSummary) {
    let secs = s.elapsed.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = s.written as f64 / secs.max(0.001);
    eprintln!(
        "Sammlung »{}« aus Layer »{}« ({}), Geometrie {}{}",
        s.collection,
        s.layer,
        s.source_crs,
        s.geometry_type,
        if s.three_d { " mit Z (3D)" } else { "" }
    );
    let skipped: u64 = s.skipped.iter().map(|(_, n)| n).sum();
    eprintln!("  gelesen       {:>10}", s.read);
    eprintln!("  gespeichert   {:>10}", s.written);
    eprintln!("  übersprungen  {skipped:>10}");
    for (reason, n) in &s.skipped {
        eprintln!("      {n} × {reason}");
    }
    for (id, reason) in &s.skipped_features {
        eprintln!("      Objekt {id}: {reason}");
    }
    for (line, reason) in &s.skipped_lines {
        eprintln!("      Zeile {line}: {reason}");
    }
    eprintln!(
        "  repariert     {:>10}  (ungültige Geometrien, ST_MakeValid; davon {} ohne Teile anderer Geometrieart)",
        s.repaired, s.parts_dropped
    );
    for (from, to) in &s.renamed {
        eprintln!("  Spalte »{from}« heißt in der API {to} (Titel bleibt »{from}«)");
    }
    for (field, why) in &s.dropped_fields {
        eprintln!("  Feld »{field}« nicht importiert: {why}");
    }
    for kept in &s.kept_settings {
        eprintln!("  beibehalten: {kept}");
    }
    for (setting, why) in &s.dropped_settings {
        eprintln!("  NICHT beibehalten: {setting} — {why}");
    }
    eprintln!("  Zeit          {secs:>10.1} s ({rate:.0} Objekte/s)");
    if s.dry_run {
        eprintln!("Probelauf / dry run: nichts wurde geändert.");
    }
}

async fn import_xplan(config: &Config, args: XplanArgs) -> anyhow::Result<()> {
    let mut client = connect_and_migrate(config).await?;
    let (license, attribution, actor) = args.provenance.resolve(config);
    let job = XplanImport {
        file: args.file,
        license,
        license_url: None,
        attribution,
        actor,
        storage_srid: config.city.storage_srid,
    };
    let s = xplan::import(&mut client, &job).await?;
    eprintln!("XPlanGML {}: {}", s.version, s.plans.join(", "));
    if s.replaced > 0 {
        eprintln!(
            "  ersetzt         {:>6} (gleiche gml:id wie ein früherer Import)",
            s.replaced
        );
    }
    eprintln!("  Bereiche        {:>6}", s.bereiche);
    eprintln!("  Baugebiete      {:>6}", s.baugebiete);
    for (table, n) in &s.typed {
        eprintln!("  {table:<40} {n:>6}");
    }
    for (kind, n) in &s.generic {
        eprintln!("  {kind:<40} {n:>6} (allgemein gespeichert)");
    }
    for d in &s.documents {
        eprintln!("  Dokument gespeichert: {d}");
    }
    for link in &s.external_links {
        eprintln!("  Verweis (nicht im Archiv): {link}");
    }
    eprintln!("  Zeit            {:>6.2} s", s.elapsed.as_secs_f64());
    Ok(())
}

async fn import_imagery(config: &Config, args: ImageryArgs) -> anyhow::Result<()> {
    let mut client = connect_and_migrate(config).await?;
    let (license, attribution, actor) = args.provenance.resolve(config);
    let job = ImageryImport {
        files: args.files,
        id: args.id.unwrap_or_else(|| format!("luftbild-{}", args.year)),
        year: args.year,
        title: args
            .title
            .unwrap_or_else(|| format!("Luftbild {}", args.year)),
        description: args.description,
        source: args.source,
        license,
        attribution,
        source_srs: args.source_srs,
        replace: args.replace,
        quality: args.quality.unwrap_or(config.imagery.quality),
        actor,
        dir: PathBuf::from(&config.imagery.dir),
        progress: true,
    };
    let s = imagery::import(&mut client, job).await?;
    print_imagery_summary(&s);
    Ok(())
}

fn print_imagery_summary(s: &imagery::ImagerySummary) {
    #[allow(clippy::cast_precision_loss)]
    let mb = |b: u64| b as f64 / 1_048_576.0;
    eprintln!(
        "Luftbild »{}«{}: Zoomstufen {}–{}, {} ({:.2} m/Pixel)",
        s.id,
        if s.replaced { " ersetzt" } else { "" },
        s.min_zoom,
        s.max_zoom,
        if s.grayscale { "Graustufen" } else { "Farbe" },
        s.resolution_m
    );
    eprintln!("  Kacheln       {:>10}", s.tiles);
    eprintln!(
        "  Speicher      {:>10.1} MB (Quelle {:.1} MB)",
        mb(s.storage_bytes),
        mb(s.source_bytes)
    );
    for note in &s.notes {
        eprintln!("  Hinweis: {note}");
    }
    eprintln!("  Zeit          {:>10.1} s", s.elapsed.as_secs_f64());
}

async fn dataset(config: &Config, command: DatasetCommand) -> anyhow::Result<()> {
    let mut client = connect_and_migrate(config).await?;
    // One transaction: a refused change leaves nothing half-written.
    let tx = client.transaction().await?;
    let show = |d: &registry::Dataset| {
        eprintln!(
            "{:<14} {}  [{}]  {} Objekte, geändert {}, {}",
            d.id,
            d.title,
            d.collections.join(","),
            d.feature_count,
            d.modified.get(..10).unwrap_or(&d.modified),
            registry::license_name(&d.license)
        );
    };
    match command {
        DatasetCommand::List => {
            let all = registry::list(&*tx).await?;
            if all.is_empty() {
                eprintln!(
                    "Keine Datensätze. `stadtkarte dataset add ID --title … --description … --collection …`"
                );
            }
            all.iter().for_each(show);
        }
        DatasetCommand::Add { id, fields } => {
            let (input, actor) = fields.input();
            show(&registry::add(&*tx, &id, &input, &dataset_defaults(config), &actor).await?);
        }
        DatasetCommand::Update { id, fields } => {
            let (input, actor) = fields.input();
            show(&registry::update(&*tx, &id, &input, &actor).await?);
        }
        DatasetCommand::Remove { id } => {
            let actor = std::env::var("USER").unwrap_or_else(|_| "unbekannt".to_owned());
            registry::remove(&*tx, &id, &actor).await?;
            eprintln!("Datensatz {id} entfernt; seine Sammlungen bleiben.");
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The one who runs a command, for the audit log.
fn cli_actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unbekannt".to_owned())
    )
}

/// A new password: from the first line of stdin, or asked twice at the terminal. Checked
/// against the rules before anything is stored.
fn read_password(email: &str, from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        use std::io::IsTerminal as _;
        anyhow::ensure!(
            std::io::stdin().is_terminal(),
            "no terminal to ask for the password: give it with --password-stdin (never as an argument)"
        );
        let first = rpassword::prompt_password("Passwort / password: ")?;
        let second = rpassword::prompt_password("Noch einmal / again: ")?;
        anyhow::ensure!(first == second, "the two passwords differ");
        first
    };
    if let Some(reason) = stadtkarte_core::auth::password::refusal(&password, email) {
        anyhow::bail!("{reason}");
    }
    Ok(password)
}

fn parse_roles(roles: &[String]) -> anyhow::Result<Vec<(Role, Option<String>)>> {
    roles
        .iter()
        .map(|r| Role::parse_with_department(r).map_err(anyhow::Error::msg))
        .collect()
}

fn roles_text(roles: &[(Role, Option<String>)]) -> String {
    let list: Vec<String> = roles
        .iter()
        .map(|(r, d)| match d {
            Some(d) => format!("{}:{d}", r.as_str()),
            None => r.as_str().to_owned(),
        })
        .collect();
    if list.is_empty() {
        "(keine Rolle)".to_owned()
    } else {
        list.join(", ")
    }
}

async fn user(config: &Config, command: UserCommand) -> anyhow::Result<()> {
    let mut client = connect_and_migrate(config).await?;
    let hasher = stadtkarte_core::auth::password::Hasher::new(1);
    let actor = cli_actor();
    let tx = client.transaction().await?;
    match command {
        UserCommand::Add {
            email,
            name,
            roles,
            password_stdin,
        } => {
            let email = users::normal_email(&email)?;
            let roles = parse_roles(&roles)?;
            let password = read_password(&email, password_stdin)?;
            let hash = hasher.hash(&password).await.map_err(anyhow::Error::msg)?;
            let id = users::add(&*tx, &email, &name, Some(&hash)).await?;
            users::set_roles(&*tx, id, &roles).await?;
            append_user_audit(&*tx, &actor, "user.add", id, &roles, None).await?;
            eprintln!("Konto {email} angelegt: {}", roles_text(&roles));
        }
        UserCommand::List => {
            for u in users::list(&*tx).await? {
                eprintln!(
                    "{:<32} {:<24} {:<40} {}{}",
                    u.email,
                    u.display_name,
                    roles_text(&u.roles),
                    if u.totp_enabled { "TOTP" } else { "–" },
                    if u.disabled {
                        "  GESPERRT / disabled"
                    } else {
                        ""
                    }
                );
            }
        }
        UserCommand::SetRoles { email, roles } => {
            let u = users::by_email(&*tx, &email).await?;
            let roles = parse_roles(&roles)?;
            users::set_roles(&*tx, u.id, &roles).await?;
            session::end_all(&*tx, u.id).await?;
            append_user_audit(&*tx, &actor, "user.set_roles", u.id, &roles, Some(&u.roles)).await?;
            eprintln!("Rollen von {}: {}", u.email, roles_text(&roles));
        }
        UserCommand::Disable { email, enable } => {
            let u = users::by_email(&*tx, &email).await?;
            users::set_disabled(&*tx, u.id, !enable).await?;
            session::end_all(&*tx, u.id).await?;
            append_user_audit(
                &*tx,
                &actor,
                if enable {
                    "user.enable"
                } else {
                    "user.disable"
                },
                u.id,
                &u.roles,
                None,
            )
            .await?;
            eprintln!(
                "{} {}",
                u.email,
                if enable {
                    "wieder freigegeben / enabled"
                } else {
                    "gesperrt / disabled"
                }
            );
        }
        UserCommand::ResetPassword {
            email,
            password_stdin,
        } => {
            let u = users::by_email(&*tx, &email).await?;
            let password = read_password(&u.email, password_stdin)?;
            let hash = hasher.hash(&password).await.map_err(anyhow::Error::msg)?;
            users::set_password(&*tx, u.id, &hash).await?;
            session::end_all(&*tx, u.id).await?;
            throttle::succeeded(&*tx, &throttle::account_key(&u.email)).await?;
            append_user_audit(&*tx, &actor, "user.reset_password", u.id, &u.roles, None).await?;
            eprintln!(
                "Neues Passwort für {} gesetzt; alle Sitzungen beendet.",
                u.email
            );
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn append_user_audit(
    client: &impl stadtkarte_core::tokio_postgres::GenericClient,
    actor: &str,
    action: &str,
    id: i64,
    roles: &[(Role, Option<String>)],
    before: Option<&[(Role, Option<String>)]>,
) -> anyhow::Result<()> {
    let subject = format!("user:{id}");
    audit::append(
        client,
        &audit::Entry {
            actor,
            action,
            subject: &subject,
            details: serde_json::json!({}),
            before: before.map(|b| serde_json::json!({"roles": roles_text(b)})),
            after: Some(serde_json::json!({"roles": roles_text(roles)})),
            ..audit::Entry::default()
        },
    )
    .await?;
    Ok(())
}

async fn privacy(config: &Config, command: PrivacyCommand) -> anyhow::Result<()> {
    let mut client = connect_and_migrate(config).await?;
    match command {
        PrivacyCommand::Export { email } => {
            let mut data = stadtkarte_maengelmelder::privacy::export(&**client, &email).await?;
            let petitions = stadtkarte_petitions::privacy::export(&**client, &email).await?;
            if let (Some(all), serde_json::Value::Object(more)) = (data.as_object_mut(), petitions)
            {
                all.extend(more);
            }
            println!("{}", serde_json::to_string_pretty(&data)?);
            Ok(())
        }
        PrivacyCommand::Delete { email } => {
            let tx = client.transaction().await?;
            let (reports, mails) =
                stadtkarte_maengelmelder::privacy::delete(&*tx, &email, &cli_actor()).await?;
            let (petitions, signatures, petition_mails) =
                stadtkarte_petitions::privacy::delete(&*tx, &email, &cli_actor()).await?;
            tx.commit().await?;
            eprintln!(
                "Gelöscht / deleted: Kontaktdaten aus {reports} Meldungen und {petitions} Petitionen, {signatures} Unterschriften anonymisiert, {} E-Mails.",
                mails + petition_mails
            );
            Ok(())
        }
    }
}

async fn maengel(config: &Config, command: MaengelCommand) -> anyhow::Result<()> {
    use stadtkarte_maengelmelder::open311;
    let client = connect_and_migrate(config).await?;
    match command {
        MaengelCommand::ApiKey(ApiKeyCommand::Add { name }) => {
            let key = open311::add_key(&**client, &name).await?;
            eprintln!("API-Schlüssel für {name} (wird nur jetzt angezeigt) / API key, shown once:");
            println!("{key}");
        }
        MaengelCommand::ApiKey(ApiKeyCommand::List) => {
            for (name, revoked, created) in open311::list_keys(&**client).await? {
                println!(
                    "{name:<30} {created} {}",
                    if revoked {
                        "widerrufen / revoked"
                    } else {
                        "aktiv / active"
                    }
                );
            }
        }
        MaengelCommand::ApiKey(ApiKeyCommand::Revoke { name }) => {
            if !open311::revoke_key(&**client, &name).await? {
                anyhow::bail!("there is no API key named {name:?}");
            }
            eprintln!("Widerrufen / revoked: {name}");
        }
        MaengelCommand::Retention => {
            drop(client);
            let pool = db::owner_pool(&config.database)?;
            let state = AppState::new(config.clone(), pool);
            let n = stadtkarte_maengelmelder::tasks::retention(&state).await?;
            eprintln!("Kontaktdaten gelöscht / contact data deleted: {n} Meldungen");
        }
    }
    Ok(())
}

async fn audit_verify(config: &Config) -> anyhow::Result<()> {
    let client = connect_and_migrate(config).await?;
    match audit::verify(&**client).await? {
        audit::Verdict::Intact { entries } => {
            eprintln!("Audit-Log intakt / intact: {entries} Einträge, jede Verkettung stimmt.");
            Ok(())
        }
        audit::Verdict::Broken { chain, id, reason } => {
            anyhow::bail!("the audit log is broken at entry {chain} (id {id}): {reason}")
        }
    }
}

/// The departments of a German city and one demo account per role (password
/// `demo.staff_password`); existing accounts get the password and roles again.
async fn seed_demo_staff(
    client: &impl stadtkarte_core::tokio_postgres::GenericClient,
    config: &Config,
) -> anyhow::Result<Vec<(String, String)>> {
    // The departments, the Mängelmelder's categories routed to them, and its note templates.
    stadtkarte_maengelmelder::demo::seed(client).await?;
    let accounts: &[(&str, &str, &[&str])] = &[
        ("admin@koblenz.example", "Demo Administration", &["admin"]),
        (
            "redaktion@koblenz.example",
            "Demo Redaktion Offene Daten",
            &["editor"],
        ),
        (
            "moderation@koblenz.example",
            "Demo Moderation Petitionen",
            &["moderator"],
        ),
        (
            "tiefbau@koblenz.example",
            "Demo Tiefbauamt",
            &["triage:tiefbau", "triage:verkehr"],
        ),
        (
            "gruen@koblenz.example",
            "Demo Grünflächenamt",
            &["triage:gruen", "triage:abfall"],
        ),
    ];
    let hasher = stadtkarte_core::auth::password::Hasher::new(2);
    let hash = hasher
        .hash(&config.demo.staff_password)
        .await
        .map_err(anyhow::Error::msg)?;
    let mut out = Vec::new();
    for (email, name, roles) in accounts {
        let id = match users::by_email(client, email).await {
            Ok(u) => {
                users::set_password(client, u.id, &hash).await?;
                u.id
            }
            Err(_) => users::add(client, email, name, Some(&hash)).await?,
        };
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        let parsed = parse_roles(&roles)?;
        users::set_roles(client, id, &parsed).await?;
        append_user_audit(client, "demo", "user.demo", id, &parsed, None).await?;
        out.push(((*email).to_owned(), roles_text(&parsed)));
    }
    Ok(out)
}
