"""Indexes for exact-key matching on buildings, and triggers that tell the gazetteer its names changed.

Both live on tables of the `layers` app but change neither its models nor its migrations: they are
database objects the geocoder needs (Django does not see extra indexes or triggers, and the layer code
never has to know about them).  The btree indexes serve the exact keys the matcher looks up first —
(road, door number), (estate, building number) and (road, building number); the trigram index for typos is on our own name table
(0001).  The statement-level triggers renew `geocoding_gazetteerstate.source_token` when a named source
table changes — including TRUNCATE and COPY by the city loader — so every process rebuilds its automaton.
"""

from django.db import migrations

TOUCH = """
create or replace function geocoding_touch() returns trigger language plpgsql as $$
begin
    update geocoding_gazetteerstate set source_token = gen_random_uuid() where id = 1;
    return null;
end $$;
"""

TRIGGERS = [
    ("layers_adminunit", "insert or update or delete or truncate"),
    ("layers_road", "insert or update of name or delete or truncate"),
    ("layers_building", "insert or update of road_name, estate or delete or truncate"),
    ("geocoding_alias", "insert or update or delete or truncate"),
]


def forward_sql() -> list[str]:
    sql = [
        "create index if not exists geocoding_building_road_door on layers_building (road_name, door_number)",
        "create index if not exists geocoding_building_estate_bno on layers_building (estate, building_number)",
        "create index if not exists geocoding_building_road_bno on layers_building (road_name, building_number)",
        "insert into geocoding_gazetteerstate (id, source_token) values (1, gen_random_uuid()) "
        "on conflict (id) do nothing",
        TOUCH,
    ]
    for table, events in TRIGGERS:
        sql.append(
            f"create trigger geocoding_touch_{table} after {events} on {table} "
            f"for each statement execute function geocoding_touch()"
        )
    return sql


def reverse_sql() -> list[str]:
    sql = [f"drop trigger if exists geocoding_touch_{table} on {table}" for table, _ in TRIGGERS]
    return sql + [
        "drop function if exists geocoding_touch()",
        "drop index if exists geocoding_building_road_door",
        "drop index if exists geocoding_building_estate_bno",
        "drop index if exists geocoding_building_road_bno",
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("geocoding", "0001_initial"),
        ("layers", "0002_default_nets"),
    ]

    operations = [migrations.RunSQL(forward_sql(), reverse_sql())]
