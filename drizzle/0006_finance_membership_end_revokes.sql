-- A Finance company or business-unit membership that ends (deactivated or deleted, through
-- /internal/companies, the Finance import or a user's deletion) revokes the user's org-scoped
-- tokens of that organization when no membership of any source remains, as removing a member
-- through /auth/organizations does: the token ids go to revoked_access_tokens, which every check
-- of this service reads in Postgres.
CREATE OR REPLACE FUNCTION finance_membership_ended() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  org uuid;
BEGIN
  IF TG_OP = 'UPDATE' AND NOT (OLD.is_active AND NOT NEW.is_active) THEN
    RETURN NULL;
  END IF;
  IF TG_TABLE_NAME = 'business_unit_memberships' THEN
    org := OLD.business_unit_id;
  ELSE
    org := OLD.company_id;
  END IF;
  INSERT INTO revoked_access_tokens (jti, expires_at, revoked_at)
  SELECT t.jti, t.expires_at, now() FROM organization_tokens t
  WHERE t.organization_id = org AND t.user_id = OLD.user_id AND t.expires_at > now()
    AND NOT EXISTS (SELECT 1 FROM organization_memberships om WHERE om.organization_id = org AND om.user_id = OLD.user_id)
  ON CONFLICT (jti) DO NOTHING;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER company_memberships_ended AFTER UPDATE OR DELETE ON company_memberships
FOR EACH ROW EXECUTE FUNCTION finance_membership_ended();
--> statement-breakpoint
CREATE TRIGGER business_unit_memberships_ended AFTER UPDATE OR DELETE ON business_unit_memberships
FOR EACH ROW EXECUTE FUNCTION finance_membership_ended();
