"""`sqlml init`: a small project that runs as soon as it is created."""

from __future__ import annotations

import re
from pathlib import Path

from sqlml.errors import ConfigError

_FILES = {
    "project.yml": """\
name: {name}
target: dev
targets:
  dev:
    type: duckdb
    path: warehouse.duckdb
    schema: main
vars:
  min_amount: 10
models:
  +materialized: table
  staging:
    +materialized: view
    +tags: [staging]
""",
    "models/staging/stg_payments.sql": """\
-- Raw data would come from files or sources; here it is inline so the project runs at once.
select *
from (values
    (1, 101, 25.0, 'card'),
    (2, 101, 8.5, 'voucher'),
    (3, 102, 40.0, 'card'),
    (4, 103, 12.0, 'transfer')
) as payments(payment_id, customer_id, amount, method)
""",
    "models/customer_totals.sql": """\
select
    customer_id,
    count(*) as payments,
    sum(amount) as total_amount
from {{ ref('stg_payments') }}
where amount >= {{ var('min_amount') }}
group by customer_id
""",
    "models/schema.yml": """\
models:
  - name: customer_totals
    description: Total paid per customer, payments under min_amount left out.
    columns:
      - name: customer_id
        description: One row per customer.
""",
    "macros/.gitkeep": "",
    ".gitignore": "warehouse.duckdb*\ntarget/\n",
}


def create_project(name: str, directory: str | None = None) -> Path:
    """Write a new project called ``name`` into ``directory`` (default ``./name``)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ConfigError(
            f"invalid project name '{name}'",
            hint="use letters, digits and underscores, starting with a letter",
        )
    root = Path(directory or name)
    if root.exists() and any(root.iterdir()):
        raise ConfigError(
            f"{root} already exists and is not empty",
            hint="choose an empty or new folder with --dir"
            if directory
            else "choose another name or pass --dir",
        )
    for relative, text in _FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            text.format(name=name) if relative == "project.yml" else text, encoding="utf-8"
        )
    return root
