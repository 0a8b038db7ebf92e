-- The built-in platform application: it stands for every request that names no application, so
-- sessions started before applications existed (and the seed-000 surface) belong to it. It cannot
-- be deleted or disabled (src/services/applications).
INSERT INTO "applications" ("id", "slug", "name", "type", "status", "builtin")
VALUES ('00000000-0000-4000-8000-000000000001', 'platform', 'Platform', 'web', 'active', true)
ON CONFLICT ("id") DO NOTHING;
