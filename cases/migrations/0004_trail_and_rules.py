"""The trail is append-only at the database level; cases announce changes; default rules are seeded."""

from django.db import migrations

APPEND_ONLY = """
create or replace function cases_event_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'cases_caseevent is append-only (全程留痕): % refused', tg_op;
end $$;
create trigger cases_event_append_only before update or delete on cases_caseevent
  for each row execute function cases_event_append_only();
"""
# TRUNCATE is not a row operation: loading a demo city may still clear the table.
NO_APPEND_ONLY = """
drop trigger if exists cases_event_append_only on cases_caseevent;
drop function if exists cases_event_append_only();
"""

# Every new or changed case is announced on channel onenet_cases: live screens listen (cases.live).
NOTIFY = """
create or replace function cases_case_notify() returns trigger language plpgsql as $$
begin
  perform pg_notify('onenet_cases', json_build_object(
    'op', lower(tg_op), 'id', new.id, 'number', new.number, 'status', new.status,
    'grid_code', new.grid_code, 'department_id', new.department_id, 'version', new.version)::text);
  return null;
end $$;
create trigger cases_case_notify after insert or update on cases_case
  for each row execute function cases_case_notify();
"""
NO_NOTIFY = """
drop trigger if exists cases_case_notify on cases_case;
drop function if exists cases_case_notify();
"""


def seed(apps, schema_editor):
    from cases.seed import CATEGORY_TREE, seed_case_rules

    Category = apps.get_model("cases", "Category")
    for _code, _name, _en, _kind, items in CATEGORY_TREE:
        for item in items:
            Category.objects.filter(code=item[0]).update(default_severity=item[4])
    seed_case_rules(Category, apps.get_model("cases", "RoutingRule"), apps.get_model("cases", "DeadlineRule"),
                    apps.get_model("cases", "WorkingCalendar"))


class Migration(migrations.Migration):
    dependencies = [("cases", "0003_case_loop")]
    operations = [
        migrations.RunSQL(APPEND_ONLY, NO_APPEND_ONLY),
        migrations.RunSQL(NOTIFY, NO_NOTIFY),
        # Case numbers are given on receipt from one sequence, whatever process receives the case.
        migrations.RunSQL("create sequence if not exists cases_number_seq",
                          "drop sequence if exists cases_number_seq"),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
