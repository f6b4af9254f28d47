"""The grid worker's phone page's API (/api/field/…): who I am and my grids, my open cases nearest first,
check-ins (考勤打卡) and the day's patrol track (巡查轨迹).

Reports and case handling are not here: the page uses the case API (/api/cases …) like everyone else.
`services` holds the rules (which grid a check-in counts for, appending a batch of track points), `api`
the HTTP views, `urls` their routes; the OpenAPI part is layers/openapi.py.
"""
