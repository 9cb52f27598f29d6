//! The `maestro` command: parses the command line and hands over to the library.

use std::io::Read;

use anyhow::Context;
use clap::{Parser, Subcommand};
use maestro::config::Config;
use maestro::db::users::{NewUser, UserRole};
use maestro::startup::{self, Application};
use maestro::{auth, db, graphql, telemetry, validate};
use secrecy::SecretString;

// Serving GraphQL allocates many small, short-lived values (a profile of subscription
// fan-out spent a quarter of its time in glibc's malloc and free); mimalloc is faster at
// that and returns memory to the system more readily.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "maestro",
    version,
    about = "Maestro: the GraphQL API of an ML platform"
)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs migrations, then serves the API.
    Serve,
    /// Creates the database if missing and runs migrations.
    Migrate,
    /// Prints the GraphQL schema (SDL).
    PrintSchema,
    /// Fills the database with realistic volume (defaults: 100 projects × 10 experiments
    /// × 10 runs, 2 metrics × 50 points each: 10,000 runs, 1,000,000 points), owned by
    /// the account `--owner-email` (created with `--password` if missing).
    Seed {
        #[arg(long, default_value = "seed@maestro.local")]
        owner_email: String,
        #[arg(long, default_value = "seed-password-change-me")]
        password: String,
        #[arg(long, default_value_t = 100)]
        projects: i32,
        #[arg(long, default_value_t = 10)]
        experiments: i32,
        #[arg(long, default_value_t = 10)]
        runs: i32,
        #[arg(long, default_value_t = 50)]
        points: i32,
    },
    /// Creates an ADMIN account; the password is read from standard input.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
        /// Read the password from standard input (the only way: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[tokio::main]
async fn main() {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let otlp = cli
        .config
        .otel_endpoint
        .as_deref()
        .map(|endpoint| telemetry::Otlp {
            endpoint,
            service_name: &cli.config.otel_service_name,
        });
    // One sentence naming the cause and what to change, not a debug dump.
    let telemetry = match telemetry::init(cli.config.log_json, cli.config.count_sql, None, otlp) {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("maestro: {err:#}");
            std::process::exit(1);
        }
    };
    let result = run(cli).await;
    // Sends the traces still buffered before the process ends.
    drop(telemetry);
    if let Err(err) = result {
        eprintln!("maestro: {err:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => {
            Application::build(cli.config)
                .await?
                .run_until_stopped()
                .await
        }
        Command::Migrate => {
            db::create_database_if_missing(&cli.config.database_url).await?;
            let pool = db::connect(
                &cli.config.database_url,
                2,
                std::time::Duration::from_secs(30),
                None,
            )
            .await?;
            db::migrate(&pool).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::PrintSchema => {
            print!("{}", graphql::schema::sdl());
            Ok(())
        }
        Command::Seed {
            owner_email,
            password,
            projects,
            experiments,
            runs,
            points,
        } => {
            // One statement makes the whole seed: never cut it short.
            let config = maestro::config::Config {
                db_statement_timeout_secs: 0,
                ..cli.config.clone()
            };
            let state = startup::connect(config, &format!("http://{}", cli.config.listen)).await?;
            let email =
                validate::email("owner-email", &owner_email).map_err(|e| anyhow::anyhow!("{e}"))?;
            let owner = match db::users::find_by_email(&state.db, &email)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
            {
                Some(user) => user,
                None => {
                    let hash = auth::password::hash(SecretString::from(password))
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    let new = NewUser {
                        email: &email,
                        name: "Seed Owner",
                        password_hash: &hash,
                        role: None,
                    };
                    db::users::insert(&state.db, new)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?
                }
            };
            let started = std::time::Instant::now();
            let size = maestro::seed::SeedSize {
                projects,
                experiments_per_project: experiments,
                runs_per_experiment: runs,
                points_per_metric: points,
            };
            let prefix = format!("seed-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
            let done = maestro::seed::seed(&state.db, owner.id, &prefix, size).await?;
            println!(
                "seeded {} projects, {} runs, {} metric points for {} in {:.1?}",
                done.projects,
                done.runs,
                done.metric_points,
                owner.email,
                started.elapsed()
            );
            Ok(())
        }
        Command::CreateAdmin { email, name, .. } => {
            let email = validate::email("email", &email).map_err(|e| anyhow::anyhow!("{e}"))?;
            let name = validate::name("name", &name).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("reading the password")?;
            let password = SecretString::from(password.trim_end_matches(['\r', '\n']).to_string());
            auth::password::validate_new_password("password", &password)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let state =
                startup::connect(cli.config.clone(), &format!("http://{}", cli.config.listen))
                    .await?;
            let hash = auth::password::hash(password)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let user = db::users::insert(
                &state.db,
                NewUser {
                    email: &email,
                    name: &name,
                    password_hash: &hash,
                    role: Some(UserRole::Admin),
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created administrator {} ({})", user.email, user.id);
            Ok(())
        }
    }
}
