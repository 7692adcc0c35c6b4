-- 0005 lets a group require its members to use two-factor authentication.
ALTER TABLE groups ADD COLUMN require_two_factor INTEGER NOT NULL DEFAULT 0 CHECK (require_two_factor IN (0, 1));
