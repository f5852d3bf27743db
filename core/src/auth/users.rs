//! Staff accounts in the database: create, list, roles, disable, passwords, second factor.
//! The command line (`stadtkarte user …`) and the back office both go through here; every
//! change is audited by the caller with [`crate::catalog::audit`] (without e-mail or name).

use tokio_postgres::GenericClient;

use super::Role;
use crate::db::DbError;

/// A staff account as listed.
#[derive(Debug, Clone)]
pub struct User {
    /// Id.
    pub id: i64,
    /// Sign-in name (lower case).
    pub email: String,
    /// Name shown to colleagues.
    pub display_name: String,
    /// Roles, with the department of each triage role.
    pub roles: Vec<(Role, Option<String>)>,
    /// Signs in with a second factor.
    pub totp_enabled: bool,
    /// May not sign in.
    pub disabled: bool,
    /// Has a password (otherwise single sign-on only).
    pub has_password: bool,
}

/// What can go wrong with accounts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    /// The e-mail address is taken.
    #[error("there is already an account for this e-mail address")]
    Exists,
    /// No such account.
    #[error("there is no such account")]
    NotFound,
    /// A value is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The database refused.
    #[error(transparent)]
    Db(#[from] DbError),
}

const SELECT: &str = "SELECT u.id, u.email, u.display_name, u.totp_enabled, u.disabled, u.password_hash IS NOT NULL,
        coalesce(array_agg(r.role ORDER BY r.role, r.department) FILTER (WHERE r.role IS NOT NULL), '{}'),
        coalesce(array_agg(coalesce(r.department, '') ORDER BY r.role, r.department) FILTER (WHERE r.role IS NOT NULL), '{}')
     FROM auth.users u LEFT JOIN auth.roles r ON r.user_id = u.id";

fn from_row(row: &tokio_postgres::Row) -> User {
    let roles: Vec<String> = row.get(6);
    let departments: Vec<String> = row.get(7);
    User {
        id: row.get(0),
        email: row.get(1),
        display_name: row.get(2),
        totp_enabled: row.get(3),
        disabled: row.get(4),
        has_password: row.get(5),
        roles: roles
            .iter()
            .zip(departments)
            .filter_map(|(r, d)| Role::parse(r).map(|r| (r, Some(d).filter(|d| !d.is_empty()))))
            .collect(),
    }
}

/// Normalises an e-mail address (trimmed, lower case) and checks its form.
pub fn normal_email(email: &str) -> Result<String, UserError> {
    let e = email.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !e
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    if ok {
        Ok(e)
    } else {
        Err(UserError::Invalid(format!(
            "{:?} is not an e-mail address",
            email.trim()
        )))
    }
}

/// Creates an account; returns its id.
pub async fn add(
    client: &impl GenericClient,
    email: &str,
    display_name: &str,
    password_hash: Option<&str>,
) -> Result<i64, UserError> {
    let email = normal_email(email)?;
    let name = display_name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(UserError::Invalid(
            "the display name must have 1 to 100 characters".to_owned(),
        ));
    }
    let row = client
        .query_opt(
            "INSERT INTO auth.users (email, display_name, password_hash) VALUES ($1, $2, $3)
             ON CONFLICT (email) DO NOTHING RETURNING id",
            &[&email, &name, &password_hash],
        )
        .await
        .map_err(DbError::query("creating an account"))?;
    row.map(|r| r.get(0)).ok_or(UserError::Exists)
}

/// Every account, by e-mail address.
pub async fn list(client: &impl GenericClient) -> Result<Vec<User>, UserError> {
    Ok(client
        .query(&format!("{SELECT} GROUP BY u.id ORDER BY u.email"), &[])
        .await
        .map_err(DbError::query("listing accounts"))?
        .iter()
        .map(from_row)
        .collect())
}

/// One account by id.
pub async fn get(client: &impl GenericClient, id: i64) -> Result<User, UserError> {
    client
        .query_opt(&format!("{SELECT} WHERE u.id = $1 GROUP BY u.id"), &[&id])
        .await
        .map_err(DbError::query("reading an account"))?
        .as_ref()
        .map(from_row)
        .ok_or(UserError::NotFound)
}

/// One account by e-mail address.
pub async fn by_email(client: &impl GenericClient, email: &str) -> Result<User, UserError> {
    let email = email.trim().to_lowercase();
    client
        .query_opt(
            &format!("{SELECT} WHERE u.email = $1 GROUP BY u.id"),
            &[&email],
        )
        .await
        .map_err(DbError::query("reading an account"))?
        .as_ref()
        .map(from_row)
        .ok_or(UserError::NotFound)
}

/// Replaces the roles of an account; a triage role needs a known department.
pub async fn set_roles(
    client: &impl GenericClient,
    id: i64,
    roles: &[(Role, Option<String>)],
) -> Result<(), UserError> {
    for (role, department) in roles {
        if (*role == Role::Triage) != department.is_some() {
            return Err(UserError::Invalid(
                "triage needs a department (triage:DEPARTMENT); other roles have none".to_owned(),
            ));
        }
        if let Some(d) = department {
            let known: bool = client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM auth.departments WHERE id = $1)",
                    &[d],
                )
                .await
                .map_err(DbError::query("checking a department"))?
                .get(0);
            if !known {
                return Err(UserError::Invalid(format!("there is no department {d:?}")));
            }
        }
    }
    get(client, id).await?;
    client
        .execute("DELETE FROM auth.roles WHERE user_id = $1", &[&id])
        .await
        .map_err(DbError::query("changing roles"))?;
    for (role, department) in roles {
        client
            .execute(
                "INSERT INTO auth.roles (user_id, role, department) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&id, &role.as_str(), department],
            )
            .await
            .map_err(DbError::query("changing roles"))?;
    }
    Ok(())
}

/// Disables (or enables again) an account.
pub async fn set_disabled(
    client: &impl GenericClient,
    id: i64,
    disabled: bool,
) -> Result<(), UserError> {
    let n = client
        .execute(
            "UPDATE auth.users SET disabled = $2, updated_at = now() WHERE id = $1",
            &[&id, &disabled],
        )
        .await
        .map_err(DbError::query("disabling an account"))?;
    if n == 0 {
        return Err(UserError::NotFound);
    }
    Ok(())
}

/// Sets a new password hash.
pub async fn set_password(
    client: &impl GenericClient,
    id: i64,
    hash: &str,
) -> Result<(), UserError> {
    let n = client
        .execute(
            "UPDATE auth.users SET password_hash = $2, updated_at = now() WHERE id = $1",
            &[&id, &hash],
        )
        .await
        .map_err(DbError::query("setting a password"))?;
    if n == 0 {
        return Err(UserError::NotFound);
    }
    Ok(())
}

/// The secret data of sign-in: (password hash, TOTP secret, last TOTP step, recovery hashes).
pub async fn credentials(
    client: &impl GenericClient,
    id: i64,
) -> Result<(Option<String>, Option<String>, i64, Vec<String>), UserError> {
    let row = client
        .query_opt(
            "SELECT password_hash, totp_secret, totp_last_step, recovery_codes FROM auth.users WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(DbError::query("reading credentials"))?
        .ok_or(UserError::NotFound)?;
    Ok((row.get(0), row.get(1), row.get(2), row.get(3)))
}

/// Stores a new (not yet confirmed) TOTP secret.
pub async fn set_totp_secret(
    client: &impl GenericClient,
    id: i64,
    secret: &str,
) -> Result<(), UserError> {
    client
        .execute(
            "UPDATE auth.users SET totp_secret = $2, totp_enabled = false, totp_last_step = 0, updated_at = now() WHERE id = $1",
            &[&id, &secret],
        )
        .await
        .map_err(DbError::query("storing a second factor"))?;
    Ok(())
}

/// Confirms the second factor with its first code's step and stores the recovery codes.
pub async fn enable_totp(
    client: &impl GenericClient,
    id: i64,
    step: i64,
    recovery_hashes: &[String],
) -> Result<(), UserError> {
    client
        .execute(
            "UPDATE auth.users SET totp_enabled = true, totp_last_step = $2, recovery_codes = $3, updated_at = now() WHERE id = $1",
            &[&id, &step, &recovery_hashes],
        )
        .await
        .map_err(DbError::query("enabling a second factor"))?;
    Ok(())
}

/// Records the accepted TOTP step, only when it is later than the stored one (two concurrent
/// sign-ins with the same code: one wins). Returns whether it was recorded.
pub async fn use_totp_step(
    client: &impl GenericClient,
    id: i64,
    step: i64,
) -> Result<bool, UserError> {
    let n = client
        .execute(
            "UPDATE auth.users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2",
            &[&id, &step],
        )
        .await
        .map_err(DbError::query("recording a second-factor code"))?;
    Ok(n == 1)
}

/// Uses up a recovery code; returns whether it was one of the account's.
pub async fn use_recovery_code(
    client: &impl GenericClient,
    id: i64,
    hash: &str,
) -> Result<bool, UserError> {
    let n = client
        .execute(
            "UPDATE auth.users SET recovery_codes = array_remove(recovery_codes, $2) WHERE id = $1 AND $2 = ANY(recovery_codes)",
            &[&id, &hash],
        )
        .await
        .map_err(DbError::query("using a recovery code"))?;
    Ok(n == 1)
}
