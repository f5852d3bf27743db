//! Single sign-on with OpenID Connect (off by default; `[auth.oidc]`): the authorization-code
//! flow with PKCE, `state` and `nonce` kept in the database for ten minutes (so any node can
//! finish a sign-in another node started), the ID token verified (signature, issuer, audience,
//! expiry, nonce), the roles taken from a configurable claim (`admin`, `editor`, `moderator`,
//! `triage:DEPARTMENT`) and written to the account on every sign-in. A person without any
//! known role is not let in. The provider is responsible for its own second factor.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine as _;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _,
};
use serde::Deserialize;
use stadtkarte_core::auth::{Role, session, users};
use stadtkarte_core::db::DbError;
use stadtkarte_core::http::base_url;
use stadtkarte_core::{AppState, Problem, audit};

use crate::{request_id, safe_next, see_other};

fn disabled() -> Problem {
    Problem::not_found("Single sign-on is not configured.")
}

fn failed(reason: impl std::fmt::Display) -> Problem {
    tracing::warn!(%reason, "single sign-on failed");
    Problem::new(
        axum::http::StatusCode::BAD_GATEWAY,
        "Anmeldung über das Dienstkonto fehlgeschlagen / single sign-on failed",
        "The sign-in provider could not confirm the sign-in; please try again or sign in with e-mail and password.",
    )
}

fn http_client() -> Result<reqwest::Client, Problem> {
    // No redirects: the library follows none on purpose (SSRF).
    reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(Problem::internal)
}

async fn metadata(
    state: &AppState,
    http: &reqwest::Client,
) -> Result<CoreProviderMetadata, Problem> {
    let issuer = IssuerUrl::new(state.config.auth.oidc.issuer.clone()).map_err(failed)?;
    CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(failed)
}

fn redirect_uri(state: &AppState, headers: &HeaderMap) -> Result<RedirectUrl, Problem> {
    RedirectUrl::new(format!(
        "{}/admin/login/sso/zurueck",
        base_url(&state.config, headers)
    ))
    .map_err(Problem::internal)
}

/// `?next=`
#[derive(Debug, Deserialize)]
pub struct Start {
    #[serde(default)]
    next: String,
}

/// `GET /admin/login/sso`: off to the provider.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Start>,
) -> Result<Response, Problem> {
    let config = &state.config.auth.oidc;
    if !config.enabled {
        return Err(disabled());
    }
    let http = http_client()?;
    let client = CoreClient::from_provider_metadata(
        metadata(&state, &http).await?,
        ClientId::new(config.client_id.clone()),
        Some(ClientSecret::new(config.client_secret.clone())),
    )
    .set_redirect_uri(redirect_uri(&state, &headers)?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".to_owned()))
        .add_scope(Scope::new("profile".to_owned()))
        .set_pkce_challenge(challenge);
    if !config.roles_claim.is_empty() {
        request = request.add_scope(Scope::new(config.roles_claim.clone()));
    }
    let (url, csrf, nonce) = request.url();
    let db = state.pool.get().await.map_err(DbError::from)?;
    db.execute(
        "DELETE FROM auth.oidc_pending WHERE created_at < now() - interval '10 minutes'",
        &[],
    )
    .await
    .map_err(|e| Problem::from(DbError::query("starting single sign-on")(e)))?;
    db.execute(
        "INSERT INTO auth.oidc_pending (state, verifier, nonce, next) VALUES ($1, $2, $3, $4)",
        &[
            csrf.secret(),
            verifier.secret(),
            nonce.secret(),
            &safe_next(&q.next),
        ],
    )
    .await
    .map_err(|e| Problem::from(DbError::query("starting single sign-on")(e)))?;
    Ok(see_other(url.as_str(), None))
}

/// The provider's answer.
#[derive(Debug, Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: String,
}

/// The roles in the token's claim (unknown entries are ignored).
fn roles_of(claims: &serde_json::Value, claim: &str) -> Vec<(Role, Option<String>)> {
    let values: Vec<String> = match claims.get(claim) {
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(serde_json::Value::String(s)) => s.split([' ', ',']).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    values
        .iter()
        .filter_map(|v| Role::parse_with_department(v).ok())
        .collect()
}

/// `GET /admin/login/sso/zurueck`: the code becomes a verified ID token, the token a session.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(cb): Query<Callback>,
) -> Result<Response, Problem> {
    let config = state.config.auth.oidc.clone();
    if !config.enabled {
        return Err(disabled());
    }
    if !cb.error.is_empty() {
        return Err(failed(format!("the provider answered {:?}", cb.error)));
    }
    let mut db = state.pool.get().await.map_err(DbError::from)?;
    let pending = db
        .query_opt(
            "DELETE FROM auth.oidc_pending WHERE state = $1 AND created_at > now() - interval '10 minutes'
             RETURNING verifier, nonce, next",
            &[&cb.state],
        )
        .await
        .map_err(|e| Problem::from(DbError::query("finishing single sign-on")(e)))?
        .ok_or_else(|| Problem::bad_request("This sign-in is unknown or has expired; start it again."))?;
    let (verifier, nonce, next): (String, String, String) =
        (pending.get(0), pending.get(1), pending.get(2));
    let http = http_client()?;
    let client = CoreClient::from_provider_metadata(
        metadata(&state, &http).await?,
        ClientId::new(config.client_id.clone()),
        Some(ClientSecret::new(config.client_secret.clone())),
    )
    .set_redirect_uri(redirect_uri(&state, &headers)?);
    let token = client
        .exchange_code(AuthorizationCode::new(cb.code.clone()))
        .map_err(failed)?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&http)
        .await
        .map_err(failed)?;
    let id_token = token.id_token().ok_or_else(|| failed("no ID token"))?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(nonce))
        .map_err(failed)?;
    let subject = format!("{}|{}", config.issuer, claims.subject().as_str());
    // The verified token's payload, for the configurable roles claim.
    let payload: serde_json::Value = id_token
        .to_string()
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let roles = roles_of(&payload, &config.roles_claim);
    let email = claims
        .email()
        .map(|e| e.as_str().to_owned())
        .unwrap_or_default();
    let name = claims
        .name()
        .and_then(|n| n.get(None))
        .map_or_else(|| email.clone(), |n| n.as_str().to_owned());
    if roles.is_empty() {
        return Err(Problem::new(
            axum::http::StatusCode::FORBIDDEN,
            "Kein Zugang / no access",
            "Your account has no role in this back office; ask the administration.",
        ));
    }
    let tx = db
        .transaction()
        .await
        .map_err(DbError::query("finishing single sign-on"))?;
    let existing: Option<(i64, bool)> = tx
        .query_opt(
            "SELECT id, disabled FROM auth.users WHERE oidc_subject = $1 OR (oidc_subject IS NULL AND email = lower($2)) ORDER BY oidc_subject NULLS LAST LIMIT 1",
            &[&subject, &email],
        )
        .await
        .map_err(|e| Problem::from(DbError::query("finding the account")(e)))?
        .map(|r| (r.get(0), r.get(1)));
    let id = match existing {
        Some((_, true)) => {
            return Err(Problem::new(
                axum::http::StatusCode::FORBIDDEN,
                "Kein Zugang / no access",
                "This account is disabled.",
            ));
        }
        Some((id, false)) => id,
        None => users::add(&*tx, &email, &name, None)
            .await
            .map_err(|e| failed(e.to_string()))?,
    };
    tx.execute(
        "UPDATE auth.users SET oidc_subject = $2, updated_at = now() WHERE id = $1",
        &[&id, &subject],
    )
    .await
    .map_err(|e| Problem::from(DbError::query("linking the account")(e)))?;
    users::set_roles(&*tx, id, &roles)
        .await
        .map_err(|e| failed(e.to_string()))?;
    if let Some(old) = session::token_of(&state.config, &headers) {
        session::end(&*tx, &old).await?;
    }
    let token = session::create(&*tx, &state.config, id, false, true).await?;
    let user = format!("user:{id}");
    let roles_text: Vec<String> = roles
        .iter()
        .map(|(r, d)| {
            d.as_ref()
                .map_or_else(|| r.as_str().to_owned(), |d| format!("{}:{d}", r.as_str()))
        })
        .collect();
    audit::append(
        &*tx,
        &audit::Entry {
            actor: &user,
            action: "auth.sign_in_sso",
            subject: &user,
            details: serde_json::json!({"issuer": config.issuer}),
            after: Some(serde_json::json!({"roles": roles_text.join(" ")})),
            request_id: request_id(&headers).as_deref(),
            ..audit::Entry::default()
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(DbError::query("finishing single sign-on"))?;
    Ok(see_other(
        &safe_next(&next),
        Some(session::set_cookie(&state.config, Some(&token))),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_come_from_the_configured_claim() {
        let claims =
            serde_json::json!({"roles": ["editor", "triage:tiefbau", "chef"], "groups": "admin"});
        assert_eq!(
            roles_of(&claims, "roles"),
            vec![
                (Role::Editor, None),
                (Role::Triage, Some("tiefbau".to_owned()))
            ]
        );
        assert_eq!(roles_of(&claims, "groups"), vec![(Role::Admin, None)]);
        assert!(roles_of(&claims, "nichts").is_empty());
    }
}
