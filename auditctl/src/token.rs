//! `auditctl token`: mint a bearer token that the local stack accepts.
//!
//! Signed with the local issuer's key under the data directory (created by `up` or
//! here on first use), so `Authorization: Bearer $(auditctl token ...)` works against
//! the vault and the query-api of `auditctl up` on the same data directory.

use std::path::PathBuf;

use audit_auth::issuer::TokenSpec;
use clap::Args;

/// Flags of `auditctl token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Tenant the token is for.
    #[arg(long)]
    tenant: String,
    /// Role claimed, repeatable: ORG_ADMIN, M2M_CLIENT, or any other.
    #[arg(long = "role", required = true)]
    roles: Vec<String>,
    /// Subject (`sub`): who acts.
    #[arg(long, default_value = "local-admin")]
    subject: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl_seconds: u64,
    /// Data directory of the stack.
    #[arg(long, env = "AUDIT_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
}

/// Prints the token.
pub fn run(args: TokenArgs) -> anyhow::Result<()> {
    if args.tenant.is_empty() {
        anyhow::bail!("--tenant must not be empty");
    }
    let issuer = crate::up::local_issuer(&args.data_dir)?;
    let spec = TokenSpec {
        subject: &args.subject,
        tenant: &args.tenant,
        roles: &args.roles,
        ttl_seconds: args.ttl_seconds,
    };
    println!("{}", issuer.mint(&spec));
    Ok(())
}
