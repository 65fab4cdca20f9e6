"""Multi-department cases: departments and streets, cases, tasks, hand-overs, 12345 tickets.

* ``organisations``: a district's departments and street offices (街道);
* ``users``: role ``department`` (staff of one organisation, ``organisation_id``);
* ``merchants.street_id``: the street office of the merchant's address;
* ``hotline_tickets``: 12345 work orders as received, once per ticket id, caller's phone
  encrypted and hashed for look-up, merchant matched by credit code or left to a regulator;
* ``cases``: one per dispute, warning or matched ticket that needs the departments;
* ``case_tasks``: each department's task on a case, its owner, deadline and finding;
* ``case_events``: every step of a case, append-only.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 22:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE organisations (
            id uuid PRIMARY KEY,
            kind varchar(16) NOT NULL,
            code varchar(32) NOT NULL,
            name_zh text NOT NULL,
            name_en text NOT NULL,
            district varchar(64) NOT NULL,
            CONSTRAINT ck_organisations_kind CHECK (kind IN ('department', 'street')),
            CONSTRAINT uq_organisations_district_code UNIQUE (district, code)
        );
        ALTER TABLE users ADD COLUMN organisation_id uuid REFERENCES organisations (id);
        ALTER TABLE users DROP CONSTRAINT ck_users_role;
        ALTER TABLE users ADD CONSTRAINT ck_users_role
            CHECK (role IN ('merchant', 'regulator', 'insurer', 'operator', 'department'));
        ALTER TABLE users ADD CONSTRAINT ck_users_department_staff
            CHECK (role <> 'department' OR organisation_id IS NOT NULL);
        ALTER TABLE merchants ADD COLUMN street_id uuid REFERENCES organisations (id);

        CREATE TABLE hotline_tickets (
            ticket_id varchar(64) PRIMARY KEY,
            received_at timestamptz NOT NULL,
            caller_phone_enc bytea NOT NULL,
            caller_phone_hash bytea NOT NULL,
            merchant_code varchar(18),
            merchant_name text,
            text text NOT NULL,
            category text NOT NULL,
            merchant_id uuid REFERENCES merchants (id),
            district varchar(64),
            imported_at timestamptz NOT NULL,
            import_origin text NOT NULL
        );
        CREATE INDEX ix_hotline_tickets_caller_phone_hash ON hotline_tickets (caller_phone_hash);
        CREATE INDEX ix_hotline_tickets_merchant_id ON hotline_tickets (merchant_id);

        CREATE TABLE cases (
            id uuid PRIMARY KEY,
            merchant_id uuid NOT NULL REFERENCES merchants (id),
            district varchar(64) NOT NULL,
            subject varchar(16) NOT NULL,
            dispute_id uuid REFERENCES disputes (id),
            warning_id uuid REFERENCES warnings (id),
            ticket_id varchar(64) REFERENCES hotline_tickets (ticket_id),
            summary text NOT NULL,
            status varchar(16) NOT NULL,
            opened_at timestamptz NOT NULL,
            opened_by uuid REFERENCES users (id),
            resolved_at timestamptz,
            confirmed_at timestamptz,
            satisfied boolean,
            consumer_comment text,
            CONSTRAINT ck_cases_subject CHECK (subject IN ('dispute', 'warning', 'hotline')),
            CONSTRAINT ck_cases_status CHECK (status IN ('open', 'resolved', 'confirmed')),
            CONSTRAINT ck_cases_one_subject
                CHECK (num_nonnulls(dispute_id, warning_id, ticket_id) = 1)
        );
        CREATE INDEX ix_cases_merchant_id ON cases (merchant_id);
        CREATE INDEX ix_cases_district_status ON cases (district, status);
        CREATE UNIQUE INDEX uq_cases_dispute ON cases (dispute_id);
        CREATE UNIQUE INDEX uq_cases_warning ON cases (warning_id);
        CREATE UNIQUE INDEX uq_cases_ticket ON cases (ticket_id);

        CREATE TABLE case_tasks (
            id uuid PRIMARY KEY,
            case_id uuid NOT NULL REFERENCES cases (id),
            organisation_id uuid NOT NULL REFERENCES organisations (id),
            task text NOT NULL,
            lead boolean NOT NULL,
            owner_id uuid REFERENCES users (id),
            deadline_at timestamptz NOT NULL,
            status varchar(16) NOT NULL,
            finding varchar(24),
            finding_text text,
            penalty_fen bigint,
            document_no text,
            done_at timestamptz,
            done_by uuid REFERENCES users (id),
            created_at timestamptz NOT NULL,
            CONSTRAINT ck_case_tasks_status CHECK (status IN ('open', 'done', 'handed_over')),
            CONSTRAINT ck_case_tasks_finding CHECK (finding IS NULL OR finding IN
                ('penalty', 'order-to-correct', 'refund-arranged', 'no-violation')),
            CONSTRAINT ck_case_tasks_done_has_finding
                CHECK ((status = 'done') = (finding IS NOT NULL)),
            CONSTRAINT ck_case_tasks_penalty_documented
                CHECK (finding <> 'penalty' OR (penalty_fen > 0 AND document_no IS NOT NULL))
        );
        CREATE INDEX ix_case_tasks_case_id ON case_tasks (case_id);
        CREATE INDEX ix_case_tasks_organisation_id ON case_tasks (organisation_id);
        CREATE UNIQUE INDEX uq_case_tasks_open ON case_tasks (case_id, organisation_id)
            WHERE status = 'open';

        CREATE TABLE case_events (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            case_id uuid NOT NULL REFERENCES cases (id),
            task_id uuid REFERENCES case_tasks (id),
            at timestamptz NOT NULL,
            kind varchar(24) NOT NULL,
            actor_role varchar(16) NOT NULL,
            actor_id uuid,
            facts jsonb NOT NULL
        );
        CREATE INDEX ix_case_events_case_id ON case_events (case_id);
        CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events
            FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
        CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events
            FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
    """)


def downgrade() -> None:
    """Drops the cases with their history, and the department staff with their sessions."""
    op.execute("""
        DROP TABLE case_events;
        DROP TABLE case_tasks;
        DROP TABLE cases;
        DROP TABLE hotline_tickets;
        ALTER TABLE merchants DROP COLUMN street_id;
        DELETE FROM auth_tokens
         WHERE user_id IN (SELECT id FROM users WHERE role = 'department');
        DELETE FROM users WHERE role = 'department';
        ALTER TABLE users DROP CONSTRAINT ck_users_department_staff;
        ALTER TABLE users DROP CONSTRAINT ck_users_role;
        ALTER TABLE users ADD CONSTRAINT ck_users_role
            CHECK (role IN ('merchant', 'regulator', 'insurer', 'operator'));
        ALTER TABLE users DROP COLUMN organisation_id;
        DROP TABLE organisations;
    """)
