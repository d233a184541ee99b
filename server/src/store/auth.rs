//! Console accounts and sessions in the store. Only digests of session tokens are stored.

use sqlx::Row;

use super::audit::{Audit, Item, Origin};
use super::{Result, Store, StoreError, now_ms};

/// A live session and whose it is.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub user_id: i64,
    pub username: String,
    pub csrf_token: String,
}

impl Store {
    pub async fn admin_exists(&self) -> Result<bool> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM admin_users")
            .fetch_one(self.db.pool())
            .await?;
        Ok(count > 0)
    }

    /// Creates the first admin account; refuses once one exists, so setup happens only once.
    pub async fn create_first_admin(
        &self,
        origin: &Origin,
        username: &str,
        password_hash: &str,
    ) -> Result<i64> {
        let mut tx = self.db.begin_write().await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM admin_users")
            .fetch_one(&mut *tx)
            .await?;
        if count > 0 {
            return Err(StoreError::Conflict {
                message: "system setup is already done; log in instead".into(),
                routes: Vec::new(),
            });
        }
        let audit = Audit::begin(&mut tx, &self.sealer, origin, &[Item::Account(username)]).await?;
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO admin_users (username, password_hash, created_at, updated_at)
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(username)
        .bind(password_hash)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let summary = format!("console account '{username}' created");
        audit
            .commit(&mut tx, &self.sealer, "account_create", &summary)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The id and password hash of an account, by name.
    pub async fn admin_credentials(&self, username: &str) -> Result<Option<(i64, String)>> {
        let row = sqlx::query("SELECT id, password_hash FROM admin_users WHERE username = $1")
            .bind(username)
            .fetch_optional(self.db.pool())
            .await?;
        row.map(|row| Ok((row.try_get("id")?, row.try_get("password_hash")?)))
            .transpose()
    }

    pub async fn admin_password_hash(&self, user_id: i64) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT password_hash FROM admin_users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(self.db.pool())
                .await?,
        )
    }

    /// Sets a new password and ends every other session of the account.
    pub async fn set_admin_password(
        &self,
        origin: &Origin,
        user_id: i64,
        password_hash: &str,
        keep_session: &str,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let username: String = sqlx::query_scalar("SELECT username FROM admin_users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound("no such console account".into()))?;
        let audit =
            Audit::begin(&mut tx, &self.sealer, origin, &[Item::Account(&username)]).await?;
        sqlx::query("UPDATE admin_users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(now_ms())
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM admin_sessions WHERE user_id = $1 AND token_hash != $2")
            .bind(user_id)
            .bind(keep_session)
            .execute(&mut *tx)
            .await?;
        // The account's document does not change (a password is never recorded): the entry
        // says what happened.
        let summary = format!("password of console account '{username}' changed");
        audit
            .commit(&mut tx, &self.sealer, "password_change", &summary)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf_token: &str,
        ttl_ms: i64,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        // Expired sessions are cleared here, where writing happens anyway.
        sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO admin_sessions (token_hash, user_id, csrf_token, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf_token)
        .bind(now)
        .bind(now.saturating_add(ttl_ms))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session with this token digest, if it exists and has not expired.
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        let row = sqlx::query(
            "SELECT s.user_id, u.username, s.csrf_token FROM admin_sessions s
             JOIN admin_users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(self.db.pool())
        .await?;
        row.map(|row| {
            Ok(SessionRow {
                user_id: row.try_get("user_id")?,
                username: row.try_get("username")?,
                csrf_token: row.try_get("csrf_token")?,
            })
        })
        .transpose()
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM admin_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}
