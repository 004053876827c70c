-- Machine tokens get the kind of client that enrolled with them ('agent' or
-- 'desktop'). Re-registering a machine revokes only the previous tokens of
-- the same kind, so the agent (root) and the desktop client (the user) of one
-- machine no longer revoke each other's token. Existing tokens were all
-- issued to agents.
ALTER TABLE tokens ADD COLUMN client text NOT NULL DEFAULT 'agent'
	CHECK (client IN ('agent', 'desktop'));
