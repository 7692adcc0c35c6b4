-- 0006_external_login_sessions keeps what an external login (issue 13)
-- leaves on a session and on the pending login of its second step: the
-- provider's configured id and the raw ID token it issued, which names the
-- session at the provider's sign-out (id_token_hint). Both are '' for any
-- other login, and for the sessions and pending logins of earlier
-- releases. An ID token can be several kilobytes (Entra ID lists groups in
-- it): text has no length limit, and PostgreSQL moves a long value out of
-- line (TOAST) rather than refuse it. A constant default adds the column
-- without rewriting the table.
ALTER TABLE sessions
	ADD COLUMN provider text NOT NULL DEFAULT '',
	ADD COLUMN id_token text NOT NULL DEFAULT '';
ALTER TABLE pending_logins
	ADD COLUMN provider text NOT NULL DEFAULT '',
	ADD COLUMN id_token text NOT NULL DEFAULT '';

-- Action tokens take a third purpose, 'recovery': a password reset link an
-- operator issued. The constraint is the one 0003 declared on the column,
-- which PostgreSQL named action_tokens_purpose_check.
ALTER TABLE action_tokens DROP CONSTRAINT action_tokens_purpose_check;
ALTER TABLE action_tokens ADD CONSTRAINT action_tokens_purpose_check
	CHECK (purpose IN ('reset', 'invite', 'recovery'));
