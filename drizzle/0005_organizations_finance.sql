-- Seed 000's companies and business units are organizations (issue 12): a company is the
-- organization whose id is the Finance company id, a business unit a child organization whose
-- parent is its company. Their memberships stay in company_memberships and
-- business_unit_memberships (written by /internal/companies and the Finance import, one role of
-- OWNER/ADMIN/MANAGER/MEMBER/VIEWER each) and are read, with organization_members, through the
-- organization_memberships view. A trigger creates the organizations on the first membership, so
-- every writer gets them; the backfill below does it for rows that exist already.
CREATE OR REPLACE FUNCTION finance_organization(org_id uuid, parent uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF parent IS NOT NULL THEN
    PERFORM finance_organization(parent, NULL);
  END IF;
  INSERT INTO organizations (id, name, slug, external_id, parent_id, metadata)
  VALUES (
    org_id,
    CASE WHEN parent IS NULL THEN 'Company ' ELSE 'Business unit ' END || org_id::text,
    CASE WHEN parent IS NULL THEN 'company-' ELSE 'business-unit-' END || org_id::text,
    CASE WHEN parent IS NULL THEN 'finance:company:' ELSE 'finance:business-unit:' END || org_id::text,
    parent,
    jsonb_build_object('source', 'finance', 'kind', CASE WHEN parent IS NULL THEN 'company' ELSE 'business_unit' END)
  )
  ON CONFLICT DO NOTHING;
END;
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION finance_membership_organizations() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'business_unit_memberships' THEN
    PERFORM finance_organization(NEW.business_unit_id, NEW.company_id);
  ELSE
    PERFORM finance_organization(NEW.company_id, NULL);
  END IF;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER company_memberships_organization AFTER INSERT ON company_memberships
FOR EACH ROW EXECUTE FUNCTION finance_membership_organizations();
--> statement-breakpoint
CREATE TRIGGER business_unit_memberships_organization AFTER INSERT ON business_unit_memberships
FOR EACH ROW EXECUTE FUNCTION finance_membership_organizations();
--> statement-breakpoint
SELECT finance_organization(c.company_id, NULL)
FROM (SELECT company_id FROM company_memberships UNION SELECT company_id FROM business_unit_memberships) c;
--> statement-breakpoint
SELECT finance_organization(b.business_unit_id, b.company_id)
FROM (SELECT DISTINCT ON (business_unit_id) business_unit_id, company_id
      FROM business_unit_memberships ORDER BY business_unit_id, created_at) b;
--> statement-breakpoint
CREATE VIEW organization_memberships AS
  SELECT m.organization_id, m.user_id, m.roles, 'organization'::text AS source, m.created_at
  FROM organization_members m WHERE m.status = 'active'
  UNION ALL
  SELECT cm.company_id, cm.user_id,
         jsonb_build_array(CASE cm.role WHEN 'OWNER' THEN 'owner' WHEN 'ADMIN' THEN 'admin' WHEN 'VIEWER' THEN 'viewer' ELSE 'member' END),
         'finance'::text, cm.created_at
  FROM company_memberships cm WHERE cm.is_active
  UNION ALL
  SELECT bm.business_unit_id, bm.user_id,
         jsonb_build_array(CASE bm.role WHEN 'OWNER' THEN 'owner' WHEN 'ADMIN' THEN 'admin' WHEN 'VIEWER' THEN 'viewer' ELSE 'member' END),
         'finance'::text, bm.created_at
  FROM business_unit_memberships bm WHERE bm.is_active;
