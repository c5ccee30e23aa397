"""Generate the raw data of the `shop` example project.

The data is built inside DuckDB from ``range()`` and hash-based pseudo-random numbers (see
``register_macros``), so the same ``--seed`` and ``--rows`` give byte-identical files with the
same DuckDB version, and a million orders (ten million events) take well under a minute.

Files written under ``--out`` (default ``data/raw``)::

    customers.csv            one row per customer (later versions appended on change)
    products.csv             200 products
    orders.csv               an append-only export: a changed order appears again, later updated_at
    order_items.csv          order lines
    support_tickets.csv      a ticket appears again when it is closed
    events/date=YYYY-MM-DD/events.ndjson.gz   click-stream, one NDJSON file per day

Event files are gzipped (zstd above 100,000 orders, where gzip would take most of the run;
see ``--events-compression``): DuckDB's ``read_json`` reads all of them the same.

The raw files are deliberately a little dirty (mixed-case and padded e-mails and statuses,
prices as text, a few NULLs, duplicate events, stale duplicate orders): the staging models
clean them up.

Usage::

    python data/generate.py --out data/raw --rows 5000 --seed 42
    python data/generate.py --out data/raw --append-day --seed 42   # one more day of data
    python data/generate.py --append-day --shifted                  # a day the monitors catch
    python data/generate.py --append-days 61                        # two months later

``--append-day`` reads what is already under ``--out`` and adds the day after the latest day
present: new customers, orders, order items, tickets and a new events partition, plus change
rows for orders, customers and tickets whose state moved on that day. Use the seed the data
was generated with.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

N_PRODUCTS = 200
HISTORY_START = "2024-01-01"  # customers who signed up before the order window
PRE_WINDOW_SHARE = 0.6  # share of customers who signed up before the order window
BROWSE_SESSIONS_PER_ORDER = 1.4  # sessions that end without a purchase, per order
SHIFT_ORDERS = 4  # --shifted: a day with this many times the usual orders
SHIFT_QUANTITY = 3  # ... and every order line this many times the usual quantity
SHIFT_TICKETS = 1.0  # ... and support flooded: this many tickets per customer in one day
GZIP_MAX_ROWS = 100_000  # above this, --events-compression auto writes zstd: much faster
TS_FMT = "%Y-%m-%dT%H:%M:%S"

# fmt: off
FIRST_NAMES = [
    "Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hugo", "Ines", "Jonas",
    "Karla", "Lukas", "Maria", "Noah", "Olivia", "Paul", "Quentin", "Rosa", "Sofia", "Tom",
    "Ute", "Victor", "Wiebke", "Xavier", "Yara", "Zoe", "Liam", "Mia", "Elias", "Lea",
    "Marco", "Giulia", "Pierre", "Camille", "Jan", "Eva", "Oscar", "Alice", "Lars", "Freya",
]
LAST_NAMES = [
    "Schmidt", "Muller", "Rossi", "Dubois", "Jansen", "Smith", "Garcia", "Novak", "Berg",
    "Larsen", "Fischer", "Weber", "Bianchi", "Martin", "Bakker", "Jones", "Lopez", "Kowalski",
    "Nilsson", "Hansen", "Wagner", "Becker", "Romano", "Bernard", "Visser", "Brown", "Perez",
    "Wojcik", "Lindberg", "Olsen", "Keller", "Hoffmann", "Ricci", "Petit", "Smit", "Taylor",
]
EMAIL_DOMAINS = ["gmail.com", "outlook.com", "web.de", "yahoo.com", "proton.me", "icloud.com"]
# (country, cumulative share)
COUNTRIES = [
    ("DE", 0.30), ("FR", 0.45), ("NL", 0.55), ("GB", 0.65), ("US", 0.73), ("ES", 0.80),
    ("IT", 0.86), ("SE", 0.90), ("PL", 0.94), ("BE", 0.97), ("AT", 1.00),
]
# category -> (min price, max price, nouns)
CATEGORIES = {
    "apparel": (15, 90, ["T-Shirt", "Hoodie", "Jacket", "Dress", "Jeans", "Sweater"]),
    "footwear": (40, 180, ["Sneaker", "Boot", "Sandal", "Runner", "Loafer"]),
    "electronics": (20, 600, ["Headphones", "Speaker", "Smartwatch", "Charger", "Tablet"]),
    "home": (8, 250, ["Lamp", "Cushion", "Vase", "Blanket", "Mug", "Chair"]),
    "beauty": (5, 60, ["Serum", "Lotion", "Shampoo", "Lipstick", "Perfume"]),
    "sports": (10, 300, ["Yoga Mat", "Dumbbell", "Bike Helmet", "Racket", "Backpack"]),
    "toys": (6, 120, ["Puzzle", "Robot", "Board Game", "Plush Bear", "Kite"]),
    "books": (8, 45, ["Cookbook", "Novel", "Atlas", "Guide", "Comic"]),
}
ADJECTIVES = [
    "Classic", "Urban", "Eco", "Pro", "Lite", "Nordic", "Vintage", "Smart", "Cozy", "Bold",
    "Everyday", "Premium", "Mini", "Max", "Soft",
]
# (code, discount rate); FREESHIP waives shipping instead
COUPONS = [
    ("WELCOME10", 0.10), ("SUMMER15", 0.15), ("VIP20", 0.20), ("FREESHIP", 0.0),
    ("NEWSLETTER5", 0.05),
]
SEARCH_TERMS = [
    "running shoes", "wireless headphones", "yoga mat", "gift", "sale", "hoodie", "lamp",
    "board game", "perfume", "backpack", "jacket", "smartwatch", "cookbook", "sneakers",
]
REFERRERS = ["direct", "google", "instagram", "newsletter", "tiktok", "bing"]
# fmt: on


# --------------------------------------------------------------------------- helpers


def sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def ts(value: dt.datetime | dt.date) -> str:
    return f"timestamp '{value:%Y-%m-%d %H:%M:%S}'"


def pick(values: list[str], u: str) -> str:
    """SQL: an element of `values` chosen by the uniform [0, 1) expression `u`."""
    return f"{sql_list(values)}[1 + floor(({u}) * {len(values)})::int]"


def register_macros(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    # Uniform [0, 1) from the seed, a tag and one or two integer keys. DuckDB's hash() of
    # several arguments XORs their hashes, so hash(seed, 'a', i) and hash(seed, 'b', i) are
    # strongly correlated; re-hashing hash(i) XOR a per-tag salt gives independent streams.
    con.execute(
        f"create or replace macro rnd(tag, i) as "
        f"hash(xor(hash(i), hash({seed}, tag))) / 18446744073709551616.0"
    )
    con.execute(
        f"create or replace macro rnd2(tag, i, j) as "
        f"hash(xor(hash(xor(hash(i), hash({seed}, tag))), hash(j))) "
        f"/ 18446744073709551616.0"
    )
    con.execute("create or replace macro secs(x) as to_seconds(floor(x)::bigint)")
    con.execute(f"create or replace macro fmt_ts(t) as strftime(t, '{TS_FMT}')")
    # A status string as a sloppy upstream system writes it.
    con.execute("""
        create or replace macro dirty_case(s, u) as
            case
                when u < 0.70 then s
                when u < 0.85 then upper(s[1]) || s[2:]
                when u < 0.95 then upper(s)
                else ' ' || s || ' '
            end
    """)


def new_connection(seed: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("set preserve_insertion_order = true")
    register_macros(con, seed)
    return con


def copy_csv(con: duckdb.DuckDBPyConnection, query: str, path: Path, header: bool = True) -> None:
    con.execute(f"copy ({query}) to '{path}' (format csv, header {str(header).lower()})")


def append_csv(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> int:
    """Append the rows of `query` (same columns as the file) to an existing CSV file."""
    with tempfile.TemporaryDirectory() as tmp:
        part = Path(tmp) / "part.csv"
        copy_csv(con, query, part, header=False)
        data = part.read_bytes()
    if data:
        with path.open("rb+") as f:
            f.seek(0, 2)
            if f.tell() > 0:
                f.seek(-1, 2)
                if f.read(1) != b"\n":
                    f.write(b"\n")
            f.write(data)
    return data.count(b"\n")


# --------------------------------------------------------------------------- building blocks


def build_products(con: duckdb.DuckDBPyConnection, as_of: dt.datetime) -> None:
    names = list(CATEGORIES)
    lo = "[" + ", ".join(str(CATEGORIES[c][0]) for c in names) + "]"
    hi = "[" + ", ".join(str(CATEGORIES[c][1]) for c in names) + "]"
    nouns = "[" + ", ".join(sql_list(CATEGORIES[c][2]) for c in names) + "]"
    history_span = (as_of - dt.datetime.fromisoformat(HISTORY_START)).total_seconds()
    con.execute(f"""
        create or replace table products as
        with base as (
            select
                i as product_id,
                1 + floor(rnd('p_cat', i) * {len(names)})::int as cat_idx
            from range(1, {N_PRODUCTS + 1}) t(i)
        ),
        priced as (
            select
                product_id,
                {sql_list(names)}[cat_idx] as category,
                {pick(ADJECTIVES, "rnd('p_adj', product_id)")} || ' '
                    || {nouns}[cat_idx][1 + floor(rnd('p_noun', product_id)
                        * len({nouns}[cat_idx]))::int] as base_name,
                (greatest(1, round({lo}[cat_idx] + ({hi}[cat_idx] - {lo}[cat_idx])
                    * pow(rnd('p_price', product_id), 2))) - 0.01)::decimal(10, 2) as unit_price
            from base
        )
        select
            product_id,
            'SKU-' || upper(category[1:3]) || '-' || lpad(product_id::varchar, 5, '0') as sku,
            base_name || ' ' || (1 + product_id % 7)::varchar as name,
            category,
            unit_price,
            round(unit_price * (0.35 + 0.3 * rnd('p_cost', product_id)), 2)::decimal(10, 2)
                as cost,
            rnd('p_active', product_id) < 0.92 as active,
            {ts(dt.datetime.fromisoformat(HISTORY_START))}
                + secs(rnd('p_upd', product_id) * {history_span}) as updated_at
        from priced
    """)


def build_customers(
    con: duckdb.DuckDBPyConnection,
    *,
    first_id: int,
    n_pre: int,
    n_new: int,
    win_start: dt.datetime,
    win_end: dt.datetime,
    as_of: dt.datetime,
) -> None:
    """Customers `first_id` .. : `n_pre` signed up before the window, `n_new` during it.

    Signup times grow with the customer id, so "customers signed up before t" is an id range.
    """
    hist = dt.datetime.fromisoformat(HISTORY_START)
    pre_span = (win_start - hist).total_seconds()
    win_span = (win_end - win_start).total_seconds()
    last_pre = first_id + n_pre - 1
    country = (
        "case "
        + " ".join(
            f"when rnd('c_country', customer_id) < {share} then '{code}'"
            for code, share in COUNTRIES
        )
        + " end"
    )
    con.execute(f"""
        create or replace table customers as
        with base as (
            select
                i as customer_id,
                case
                    when i <= {last_pre} then {ts(hist)}
                        + secs(((i - {first_id}) + rnd('c_signup', i)) * {pre_span}
                               / {max(n_pre, 1)})
                    else {ts(win_start)}
                        + secs(((i - {last_pre} - 1) + rnd('c_signup', i)) * {win_span}
                               / {max(n_new, 1)})
                end as signup_at,
                {pick(FIRST_NAMES, "rnd('c_first', i)")} as first_name,
                {pick(LAST_NAMES, "rnd('c_last', i)")} as last_name,
                {pick(EMAIL_DOMAINS, "rnd('c_domain', i)")} as domain
            from range({first_id}, {first_id + n_pre + n_new}) t(i)
        ),
        emails as (
            select
                *,
                first_name || '.' || last_name || customer_id::varchar || '@' || domain
                    as raw_email,
                rnd('c_dirt', customer_id) as u_dirt
            from base
        )
        select
            customer_id,
            case
                when u_dirt < 0.08 then raw_email
                when u_dirt < 0.12 then '  ' || lower(raw_email) || ' '
                when u_dirt < 0.14 then upper(raw_email)
                else lower(raw_email)
            end as email,
            case when rnd('c_null_first', customer_id) >= 0.01 then first_name end as first_name,
            last_name,
            case
                when rnd('c_null_country', customer_id) < 0.01 then null
                when rnd('c_lower_country', customer_id) < 0.02 then lower({country})
                else {country}
            end as country,
            signup_at,
            rnd('c_opt_in', customer_id) < 0.35 as marketing_opt_in,
            case
                when rnd('c_updated', customer_id) < 0.3 then signup_at
                    + secs(rnd('c_upd_at', customer_id) * epoch({ts(as_of)} - signup_at))
                else signup_at
            end as updated_at
        from emails
    """)


def build_orders(
    con: duckdb.DuckDBPyConnection,
    *,
    first_id: int,
    n: int,
    win_start: dt.datetime,
    win_end: dt.datetime,
    customers_before: int,
    new_customers: int,
    signed_up_before_sql: str,
    trend: float,
) -> None:
    """Orders `first_id` .. in the window; each picks a customer who had signed up by then.

    `customers_before` customers (ids 1..) signed up before the window, `new_customers` during
    it, evenly spread as build_customers does. `signed_up_before_sql(s)` is SQL for how many
    customers had signed up `s` seconds after the window start (s may be negative). Half of
    the orders come from customers who signed up in the 30 days before, most of the rest from
    a loyal core, so many customers order a few times and then lapse.
    `trend` < 1 puts more orders late in the window.
    """
    win_span = int((win_end - win_start).total_seconds())
    coupons = sql_list([c for c, _ in COUPONS])
    con.execute(f"""
        create or replace table orders as
        with base as (
            select
                i as order_id,
                floor({win_span} * pow(rnd('o_time', i), {trend}))::bigint as t_off
            from range({first_id}, {first_id + n}) t(i)
        ),
        eligible as (
            select
                *,
                {customers_before} + floor(t_off * {new_customers} / {win_span})::bigint
                    as signed_up,
                least({signed_up_before_sql.format(s="t_off - 30 * 86400")},
                      {customers_before} + floor(t_off * {new_customers} / {win_span})::bigint
                      - 1) as signed_up_month_before
            from base
        )
        select
            order_id,
            case
                when rnd('o_who', order_id) < 0.5  -- a customer who signed up recently
                then signed_up_month_before + 1 + floor(rnd('o_cust', order_id)
                    * (signed_up - signed_up_month_before))::bigint
                when rnd('o_who', order_id) < 0.85  -- the loyal core: every 4th customer
                then 4 * (1 + floor(pow(rnd('o_cust', order_id), 1.3)
                                    * greatest(signed_up // 4 - 1, 0)))::bigint
                else 1 + floor(rnd('o_cust', order_id) * signed_up)::bigint  -- anyone
            end as customer_id,
            {ts(win_start)} + to_seconds(t_off) as ordered_at,
            case
                when rnd('o_channel', order_id) < 0.55 then 'web'
                when rnd('o_channel', order_id) < 0.90 then 'app'
                else 'store'
            end as channel,
            case
                when rnd('o_coupon', order_id) < 0.15
                then {coupons}[1 + floor(rnd('o_coupon_code', order_id) * {len(COUPONS)})::int]
            end as coupon_code,
            1 + floor(rnd('o_items', order_id) * 4)::int as n_items
        from eligible
    """)


def build_order_items(
    con: duckdb.DuckDBPyConnection, *, first_id: int, quantity_factor: int = 1
) -> None:
    rates = "map {" + ", ".join(f"'{c}': {r}" for c, r in COUPONS) + "}"
    con.execute(f"""
        create or replace table order_items as
        with lines as (
            select
                o.order_id,
                o.coupon_code,
                r.line_no,
                1 + floor({N_PRODUCTS} * pow(rnd2('i_prod', o.order_id, r.line_no), 1.8))::int
                    as product_id,
                rnd2('i_qty', o.order_id, r.line_no) as u_qty
            from orders o, range(o.n_items) r(line_no)
        )
        select
            {first_id - 1} + row_number() over (order by l.order_id, l.line_no) as order_item_id,
            l.order_id,
            l.line_no,
            l.product_id,
            (case when u_qty < 0.75 then 1 when u_qty < 0.92 then 2 when u_qty < 0.98 then 3
                  else 4 end) * {quantity_factor} as quantity,
            p.unit_price,
            round(p.unit_price * quantity * coalesce({rates}[l.coupon_code], 0), 2)
                ::decimal(10, 2) as discount
        from lines l
        join products p using (product_id)
        order by l.order_id, l.line_no
    """)
    con.execute("""
        create or replace table order_totals as
        select
            o.order_id,
            sum(i.unit_price * i.quantity - i.discount) as subtotal,
            case
                when rnd('o_ship_null', o.order_id) < 0.01 then null
                when o.channel = 'store' or o.coupon_code = 'FREESHIP'
                    or sum(i.unit_price * i.quantity - i.discount) >= 50 then 0
                else 4.99
            end::decimal(10, 2) as shipping_cost
        from orders o
        join order_items i using (order_id)
        group by o.order_id, o.channel, o.coupon_code
    """)


def order_state_sql(source: str, as_of: str) -> str:
    """SQL: the status of each order in `source` as of `as_of`, and when it got there.

    An order's life is a pure function of its id and ordered_at, so a later --append-day
    run can tell which orders moved on during the new day.
    """
    return f"""
        with life as (
            select
                *,
                rnd('o_cancel', order_id) < 0.03 as is_cancelled,
                ordered_at + secs(1800 + rnd('o_cancel_lag', order_id) * 6 * 3600)
                    as cancelled_at,
                case when channel = 'store' then ordered_at
                     else ordered_at + secs(20 * 3600 + rnd('o_ship_lag', order_id) * 36 * 3600)
                end as shipped_at
            from {source}
        ),
        life2 as (
            select
                *,
                case when channel = 'store' then ordered_at
                     else shipped_at + secs(86400 + rnd('o_deliver_lag', order_id) * 3 * 86400)
                end as delivered_at
            from life
        ),
        life3 as (
            select
                *,
                case
                    when rnd('o_return', order_id) < 0.06
                    then delivered_at
                        + secs(3 * 86400 + rnd('o_return_lag', order_id) * 14 * 86400)
                end as returned_at
            from life2
        )
        select
            *,
            case
                when is_cancelled and cancelled_at <= {as_of} then 'cancelled'
                when is_cancelled then 'placed'
                when returned_at <= {as_of} then 'returned'
                when delivered_at <= {as_of} then 'delivered'
                when shipped_at <= {as_of} then 'shipped'
                else 'placed'
            end as status,
            case status
                when 'cancelled' then cancelled_at
                when 'returned' then returned_at
                when 'delivered' then delivered_at
                when 'shipped' then shipped_at
                else ordered_at
            end as updated_at
        from life3
    """


def orders_csv_sql(source: str) -> str:
    return f"""
        select
            order_id, customer_id, fmt_ts(ordered_at) as ordered_at,
            dirty_case(status, rnd('o_case', order_id)) as status,
            channel,
            case when rnd('o_coupon_case', order_id) < 0.1 then lower(coupon_code)
                 else coupon_code end as coupon_code,
            shipping_cost, fmt_ts(updated_at) as updated_at
        from {source}
    """


def build_tickets(
    con: duckdb.DuckDBPyConnection,
    *,
    first_id: int,
    n: int,
    order_pool: str,
    win_start: dt.datetime,
    win_end: dt.datetime,
    customers_before: int,
    new_customers: int,
) -> None:
    """Tickets `first_id` ..: 70% about an order of `order_pool`, the rest about the account."""
    win_span = int((win_end - win_start).total_seconds())
    con.execute(
        f"create or replace table ticket_pool as "
        f"select row_number() over (order by order_id) as k, * from ({order_pool})"
    )
    pool_size = con.execute("select count(*) from ticket_pool").fetchone()[0]
    con.execute(f"""
        create or replace table tickets as
        with base as (
            select
                i as ticket_id,
                {pool_size} > 0 and rnd('t_linked', i) < 0.7 as linked,
                1 + floor(rnd('t_order', i) * {max(pool_size, 1)})::bigint as k,
                floor(rnd('t_time', i) * {win_span})::bigint as t_off
            from range({first_id}, {first_id + n}) t(i)
        ),
        opened as (
            select
                b.ticket_id,
                b.linked,
                case when b.linked then p.order_id end as order_id,
                case when b.linked then p.customer_id
                     else 1 + floor(pow(rnd('t_cust', b.ticket_id), 1.3)
                        * ({customers_before} + floor(b.t_off * {new_customers} / {win_span})))
                        ::bigint
                end as customer_id,
                case
                    when b.linked then greatest(p.ordered_at, {ts(win_start)})
                        + secs(rnd('t_open', b.ticket_id) * epoch(
                            least(p.ordered_at + interval 10 day, {ts(win_end)})
                            - greatest(p.ordered_at, {ts(win_start)})))
                    else {ts(win_start)} + to_seconds(b.t_off)
                end as opened_at
            from base b
            left join ticket_pool p on b.linked and p.k = b.k
        )
        select
            ticket_id,
            customer_id,
            order_id,
            opened_at,
            {pick(["email", "chat", "phone"], "rnd('t_channel', ticket_id)")} as channel,
            dirty_case(case
                when linked then {
        pick(["delivery", "delivery", "return", "product", "payment"], "rnd('t_cat', ticket_id)")
    }
                else {pick(["account", "account", "product", "payment"], "rnd('t_cat', ticket_id)")}
            end, rnd('t_cat_case', ticket_id)) as category,
            dirty_case({
        pick(["low", "medium", "medium", "high", "urgent"], "rnd('t_prio', ticket_id)")
    },
                       rnd('t_prio_case', ticket_id)) as priority
        from opened
    """)


def ticket_state_sql(source: str, as_of: str) -> str:
    """SQL: closed_at and satisfaction of each ticket in `source` as of `as_of`."""
    return f"""
        with life as (
            select
                *,
                0.5 + 96 * pow(rnd('t_resolve', ticket_id), 2.5) as resolution_hours,
                case when rnd('t_never', ticket_id) >= 0.03
                     then opened_at + secs((0.5 + 96 * pow(rnd('t_resolve', ticket_id), 2.5))
                                           * 3600)
                end as resolved_at
            from {source}
        )
        select
            ticket_id, customer_id, order_id,
            fmt_ts(opened_at) as opened_at,
            case when resolved_at <= {as_of} then fmt_ts(resolved_at) end as closed_at,
            channel, category, priority,
            case when resolved_at <= {as_of} and rnd('t_csat_given', ticket_id) < 0.55
                 then greatest(1, least(5, 5 - floor(resolution_hours / 24)
                                           - floor(rnd('t_csat', ticket_id) * 2.2)))::int
            end as satisfaction_score
        from life
    """


def build_events(
    con: duckdb.DuckDBPyConnection,
    *,
    n_browse: int,
    browse_key_base: int,
    win_start: dt.datetime,
    win_end: dt.datetime,
    customers_before: int,
    new_customers: int,
    trend: float,
    first_event_id: int,
) -> None:
    """Click-stream for the orders in `orders` (one purchase session each, store orders
    excepted) plus `n_browse` sessions that end without a purchase."""
    win_span = int((win_end - win_start).total_seconds())
    con.execute(f"""
        create or replace table sessions as
        with purchase as (
            select
                md5('o:' || o.order_id::varchar)[1:16] as session_id,
                o.order_id as key,
                o.order_id,
                o.n_items,
                o.customer_id,
                o.ordered_at,
                case when o.channel = 'web' then 'web'
                     when rnd('s_os', o.order_id) < 0.55 then 'ios'
                     else 'android' end as platform,
                (rnd('s_search', o.order_id) < 0.4)::int as n_search,
                1 + floor(rnd('s_views', o.order_id) * 3)::int as n_views,
                1 as n_cart, 1 as n_checkout, 1 as n_purchase,
                rnd('s_login', o.order_id) < 0.25 as late_login,
                false as long_pause,
                30 + floor(rnd('s_gap', o.order_id) * 150)::int as gap
            from orders o
            where o.channel <> 'store'
        ),
        browse_base as (
            select
                {browse_key_base} + j as key,
                floor({win_span} * pow(rnd('b_time', {browse_key_base} + j), {trend}))::bigint
                    as t_off,
                rnd('b_depth', {browse_key_base} + j) as u_depth
            from range(1, {n_browse + 1}) t(j)
        ),
        browse as (
            select
                md5('b:' || key::varchar)[1:16] as session_id,
                key,
                null::bigint as order_id,
                0 as n_items,
                case when rnd('b_anon', key) >= 0.45
                     then 1 + floor(pow(rnd('b_cust', key), 1.3) * ({customers_before}
                          + floor(t_off * {new_customers} / {win_span})))::bigint
                end as customer_id,
                {ts(win_start)} + to_seconds(t_off) as started_at,
                {pick(["web", "web", "ios", "android"], "rnd('b_platform', key)")} as platform,
                (rnd('b_search', key) < 0.4)::int as n_search,
                case when u_depth < 0.4 then 0
                     else 1 + floor(rnd('b_views', key) * 3)::int end as n_views,
                (u_depth >= 0.4 and rnd('b_cart', key) < 0.3)::int as n_cart,
                0 as n_checkout, 0 as n_purchase,
                false as late_login,
                rnd('b_pause', key) < 0.05 as long_pause,
                30 + floor(rnd('b_gap', key) * 150)::int as gap
            from browse_base
        ),
        unioned as (
            select
                session_id, key, order_id, n_items, customer_id,
                ordered_at
                    - to_seconds(gap * (1 + n_search + n_views + n_cart + n_checkout))
                    as started_at,
                platform, n_search, n_views, n_cart, n_checkout, n_purchase,
                late_login, long_pause, gap
            from purchase
            union all
            select
                session_id, key, order_id, n_items, customer_id, started_at,
                platform, n_search, n_views, n_cart, n_checkout, n_purchase,
                late_login, long_pause, gap
            from browse
        ),
        abandoned as (
            -- browse sessions that reached the cart may check out and abandon it
            select * replace (
                case when order_id is null and n_cart = 1 and rnd('b_checkout', key) < 0.35
                     then 1 else n_checkout end as n_checkout)
            from unioned
        ),
        sized as (
            select *, 1 + n_search + n_views + n_cart + n_checkout + n_purchase as n_events
            from abandoned
        )
        select
            *,
            -- event ids count up in order of session start
            {first_event_id} - n_events + sum(n_events) over (
                order by started_at, session_id rows unbounded preceding) as first_event_id
        from sized
        order by started_at, session_id
    """)
    con.execute(f"""
        create or replace table events as
        with steps as (
            select
                s.*,
                r.k,
                1 + s.n_search as b_search,
                1 + s.n_search + s.n_views as b_views,
                1 + s.n_search + s.n_views + s.n_cart as b_cart,
                1 + s.n_search + s.n_views + s.n_cart + s.n_checkout as b_checkout
            from sessions s, range(s.n_events) r(k)
        ),
        typed as (
            select
                *,
                case
                    when k = 0 then 'page_view'
                    when k < b_search then 'search'
                    when k < b_views then 'product_view'
                    when k < b_cart then 'add_to_cart'
                    when k < b_checkout then 'checkout'
                    else 'purchase'
                end as event_type,
                case when k < b_views then k - b_search else n_views - 1 end as view_idx,
                -- purchases happen exactly at ordered_at; other steps jitter by < gap / 2
                started_at + secs(
                    k * gap
                    + case when long_pause and k >= 2 then 3600 else 0 end
                    + case when order_id is not null and k = b_checkout then 0
                           else rnd2('e_jitter', key, k) * gap / 2 end) as occurred_at
            from steps
        ),
        with_product as (
            select
                t.*,
                case
                    when t.event_type not in ('product_view', 'add_to_cart') then null
                    when t.order_id is not null then i.product_id
                    else 1 + floor({N_PRODUCTS}
                                   * pow(rnd2('e_prod', t.key, t.view_idx), 1.8))::int
                end as product_id,
                i.quantity
            from typed t
            left join order_items i
                on t.order_id = i.order_id
                and i.line_no = case when t.event_type = 'add_to_cart' then 0
                                     else t.view_idx % greatest(t.n_items, 1) end
        )
        select
            w.first_event_id + w.k as event_id,
            case when w.late_login and w.event_type not in ('checkout', 'purchase') then null
                 else w.customer_id end as customer_id,
            w.session_id,
            w.event_type,
            w.platform,
            w.product_id,
            w.occurred_at,
            w.occurred_at::date as day,
            case w.event_type
                when 'page_view' then json_object(
                    'page', {
        pick(["/", "/", "/sale", "/new", "/category"], "rnd2('e_page', w.key, w.k)")
    },
                    'referrer', {pick(REFERRERS, "rnd('e_ref', w.key)")},
                    'device', case
                        when w.platform = 'web' then json_object('os', 'web')
                        else json_object(
                            'os', w.platform,
                            'app_version', '5.' || (1 + floor(rnd('e_app', w.key) * 4))::int)
                    end)
                when 'search' then json_object(
                    'query', {pick(SEARCH_TERMS, "rnd('e_query', w.key)")},
                    'results', floor(rnd('e_results', w.key) * 60)::int)
                when 'product_view' then json_object(
                    'price', p.unit_price, 'position', w.view_idx + 1)
                when 'add_to_cart' then json_object(
                    'price', p.unit_price, 'quantity', coalesce(w.quantity, 1))
                when 'checkout' then json_object(
                    'step', 'payment', 'items', greatest(w.n_items, 1))
                else json_object(
                    'order_id', w.order_id,
                    'revenue', ot.subtotal + coalesce(ot.shipping_cost, 0),
                    'currency', 'EUR')
            end as properties
        from with_product w
        left join products p using (product_id)
        left join order_totals ot on w.event_type = 'purchase' and ot.order_id = w.order_id
        where w.occurred_at >= {ts(win_start)} and w.occurred_at < {ts(win_end)}
    """)


def write_events(con: duckdb.DuckDBPyConnection, out: Path, compression: str) -> int:
    """One file per day; about 1.5% of the events are delivered twice.

    DuckDB writes one JSON file on about one core, so the days are written in parallel,
    one connection per worker (each file on its own, so the output stays deterministic).
    """
    days = [r[0] for r in con.execute("select distinct day from events order by day").fetchall()]
    suffix = {"gzip": ".ndjson.gz", "zstd": ".ndjson.zst", "none": ".ndjson"}[compression]
    options = "format json" + (f", compression {compression}" if compression != "none" else "")

    def write_day(cursor: duckdb.DuckDBPyConnection, day: dt.date) -> None:
        folder = out / "events" / f"date={day:%Y-%m-%d}"
        folder.mkdir(parents=True, exist_ok=True)
        cursor.execute(f"""
            copy (
                with today as (
                    select * exclude (day) from events where day = date '{day:%Y-%m-%d}'
                )
                select * replace (strftime(occurred_at, '%Y-%m-%dT%H:%M:%SZ') as occurred_at)
                from (
                    select * from today
                    union all
                    select * from today where rnd('e_dup', event_id) < 0.015
                )
                order by occurred_at, event_id
            ) to '{folder / ("events" + suffix)}' ({options})
        """)

    workers = max(1, min(os.cpu_count() or 1, 8, len(days)))
    cursors = [con.cursor() for _ in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        batches = [days[i::workers] for i in range(workers)]
        list(pool.map(lambda c, b: [write_day(c, d) for d in b], cursors, batches))
    for cursor in cursors:
        cursor.close()
    return con.execute(
        "select count(*) + count(*) filter (rnd('e_dup', event_id) < 0.015) from events"
    ).fetchone()[0]


# --------------------------------------------------------------------------- modes


def generate(
    out: Path, rows: int, seed: int, end_date: dt.date, days: int, compression: str
) -> dict[str, int]:
    win_end = dt.datetime.combine(end_date + dt.timedelta(days=1), dt.time())
    win_start = win_end - dt.timedelta(days=days)
    n_customers = max(rows // 5, 10)
    n_pre = int(n_customers * PRE_WINDOW_SHARE)
    n_new = n_customers - n_pre
    con = new_connection(seed)

    out.mkdir(parents=True, exist_ok=True)
    if (out / "events").exists():
        shutil.rmtree(out / "events")

    build_products(con, win_end)
    build_customers(
        con,
        first_id=1,
        n_pre=n_pre,
        n_new=n_new,
        win_start=win_start,
        win_end=win_end,
        as_of=win_end,
    )
    pre_span = int((win_start - dt.datetime.fromisoformat(HISTORY_START)).total_seconds())
    win_span = int((win_end - win_start).total_seconds())
    signed_up_before = (  # inverse of the signup times build_customers gives
        f"case when {{s}} >= 0 then {n_pre} + floor(({{s}}) * {n_new} / {win_span})::bigint "
        f"else greatest(0, floor(({pre_span} + ({{s}})) * {n_pre} / {pre_span})::bigint) end"
    )
    build_orders(
        con,
        first_id=1,
        n=rows,
        win_start=win_start,
        win_end=win_end,
        customers_before=n_pre,
        new_customers=n_new,
        signed_up_before_sql=signed_up_before,
        trend=0.85,
    )
    build_order_items(con, first_id=1)
    build_tickets(
        con,
        first_id=1,
        n=max(rows // 20, 1),
        order_pool="select order_id, customer_id, ordered_at from orders",
        win_start=win_start,
        win_end=win_end,
        customers_before=n_pre,
        new_customers=n_new,
    )
    build_events(
        con,
        n_browse=round(rows * BROWSE_SESSIONS_PER_ORDER),
        browse_key_base=0,
        win_start=win_start,
        win_end=win_end,
        customers_before=n_pre,
        new_customers=n_new,
        trend=0.85,
        first_event_id=1,
    )

    copy_csv(
        con,
        """
        select product_id, sku, name,
            case when rnd('p_cat_case', product_id) < 0.05 then upper(category) || ' '
                 else category end as category,
            unit_price, cost, active, fmt_ts(updated_at) as updated_at
        from products order by product_id
    """,
        out / "products.csv",
    )
    copy_csv(
        con,
        """
        select customer_id, email, first_name, last_name, country, fmt_ts(signup_at) as signup_at,
            marketing_opt_in, fmt_ts(updated_at) as updated_at
        from customers order by customer_id
    """,
        out / "customers.csv",
    )
    as_of = ts(win_end)
    con.execute(f"""
        create or replace table orders_out as
        with state as ({order_state_sql("orders", as_of)})
        select s.*, t.shipping_cost
        from state s join order_totals t using (order_id)
    """)
    # the first export had a bug that wrote about 0.5% of the orders twice
    copy_csv(
        con,
        f"""
        {orders_csv_sql("orders_out")}
        union all
        {orders_csv_sql("(select * from orders_out where rnd('o_dup', order_id) < 0.005)")}
        order by order_id
    """,
        out / "orders.csv",
    )
    copy_csv(
        con,
        """
        select order_item_id, order_id, product_id, quantity, unit_price, discount
        from order_items order by order_item_id
    """,
        out / "order_items.csv",
    )
    copy_csv(
        con, ticket_state_sql("tickets", as_of) + " order by ticket_id", out / "support_tickets.csv"
    )
    n_events = write_events(con, out, compression)
    return {
        "customers": n_customers,
        "products": N_PRODUCTS,
        "orders": rows,
        "order_items": con.execute("select count(*) from order_items").fetchone()[0],
        "support_tickets": max(rows // 20, 1),
        "events": n_events,
    }


def read_existing(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """The raw CSVs as tables, latest version of each changed row."""
    con.execute(f"""
        create or replace table old_orders as
        select * from read_csv('{out / "orders.csv"}', header = true, columns = {{
            'order_id': 'bigint', 'customer_id': 'bigint', 'ordered_at': 'timestamp',
            'status': 'varchar', 'channel': 'varchar', 'coupon_code': 'varchar',
            'shipping_cost': 'decimal(10, 2)', 'updated_at': 'timestamp'}})
        qualify row_number() over (partition by order_id order by updated_at desc) = 1
    """)
    con.execute(f"""
        create or replace table old_customers as
        select * from read_csv('{out / "customers.csv"}', header = true, columns = {{
            'customer_id': 'bigint', 'email': 'varchar', 'first_name': 'varchar',
            'last_name': 'varchar', 'country': 'varchar', 'signup_at': 'timestamp',
            'marketing_opt_in': 'boolean', 'updated_at': 'timestamp'}})
        qualify row_number() over (partition by customer_id order by updated_at desc) = 1
    """)
    con.execute(f"""
        create or replace table old_tickets as
        select * from read_csv('{out / "support_tickets.csv"}', header = true, columns = {{
            'ticket_id': 'bigint', 'customer_id': 'bigint', 'order_id': 'bigint',
            'opened_at': 'timestamp', 'closed_at': 'timestamp', 'channel': 'varchar',
            'category': 'varchar', 'priority': 'varchar', 'satisfaction_score': 'integer'}})
        qualify row_number() over (partition by ticket_id order by closed_at desc nulls last) = 1
    """)
    con.execute(f"""
        create or replace table products as
        select * from read_csv('{out / "products.csv"}', header = true, columns = {{
            'product_id': 'bigint', 'sku': 'varchar', 'name': 'varchar', 'category': 'varchar',
            'unit_price': 'decimal(10, 2)', 'cost': 'decimal(10, 2)', 'active': 'boolean',
            'updated_at': 'timestamp'}})
    """)


def append_day(
    out: Path, seed: int, compression: str, *, shifted: bool = False, days: int = 1
) -> dict[str, int | str]:
    """Append the day after the latest day in ``out`` (``days`` > 1: that many days at once,
    at the same daily rates, e.g. to let the labels of earlier scores land)."""
    for name in (
        "customers.csv",
        "products.csv",
        "orders.csv",
        "order_items.csv",
        "support_tickets.csv",
    ):
        if not (out / name).exists():
            sys.exit(f"error: {out / name} not found; generate the data first")
    con = new_connection(seed)
    read_existing(con, out)
    last_event_day = max(
        (p.name.removeprefix("date=") for p in (out / "events").glob("date=*")), default=None
    )
    last_order_day = con.execute("select max(ordered_at)::date from old_orders").fetchone()[0]
    last_day = max(last_order_day, dt.date.fromisoformat(last_event_day or "0001-01-01"))
    day = last_day + dt.timedelta(days=1)
    day_start = dt.datetime.combine(day, dt.time())
    day_end = day_start + dt.timedelta(days=days)
    day_no = (day - dt.date(1970, 1, 1)).days
    week_ago = ts(day_start - dt.timedelta(days=7))

    n_orders, max_order, max_customer, n_signups, n_tickets, max_ticket = con.execute(f"""
        select
            (select count(*) from old_orders where ordered_at >= {week_ago}),
            (select max(order_id) from old_orders),
            (select max(customer_id) from old_customers),
            (select count(*) from old_customers where signup_at >= {week_ago}),
            (select count(*) from old_tickets where opened_at >= {week_ago}),
            (select coalesce(max(ticket_id), 0) from old_tickets)
    """).fetchone()
    jitter = con.execute(f"select 0.9 + 0.2 * rnd('a_volume', {day_no})").fetchone()[0]
    n_orders = max(1, round(n_orders / 7 * jitter * days))
    if shifted:  # a day unlike the others: four times the orders, each three times the size
        n_orders *= SHIFT_ORDERS
    n_new_customers = max(1, round(n_signups / 7 * days))
    n_tickets = max(1, round(n_tickets / 7 * days))
    if shifted:  # a delivery outage: support hears from a good share of all customers at once
        n_tickets = round(max_customer * SHIFT_TICKETS)
    max_item = con.execute(f"""
        select max(order_item_id) from read_csv('{out / "order_items.csv"}', header = true,
            columns = {{'order_item_id': 'bigint', 'order_id': 'bigint', 'product_id': 'bigint',
                        'quantity': 'integer', 'unit_price': 'varchar', 'discount': 'varchar'}})
    """).fetchone()[0]
    max_event = 0
    if last_event_day:
        files = sorted((out / "events" / f"date={last_event_day}").glob("events.ndjson*"))
        if files and compression == "auto":  # as the days before
            compression = {".gz": "gzip", ".zst": "zstd"}.get(files[0].suffix, "none")
        if files:
            max_event = con.execute(f"""
                select coalesce(max(event_id), 0) from read_json('{files[0]}',
                    format = 'newline_delimited', columns = {{'event_id': 'bigint'}})
            """).fetchone()[0]

    build_customers(
        con,
        first_id=max_customer + 1,
        n_pre=0,
        n_new=n_new_customers,
        win_start=day_start,
        win_end=day_end,
        as_of=day_end,
    )
    signed_up_month_before = con.execute(f"""
        select count(*) from old_customers
        where signup_at < {ts(day_start - dt.timedelta(days=30))}
    """).fetchone()[0]
    build_orders(
        con,
        first_id=max_order + 1,
        n=n_orders,
        win_start=day_start,
        win_end=day_end,
        customers_before=max_customer,
        new_customers=n_new_customers,
        # customers signed up by {s} seconds after the window start (before it: as a month
        # before the window start, close enough for one day; within a longer window: exact)
        signed_up_before_sql=(
            f"case when ({{s}}) >= 0 then {max_customer} + floor(({{s}}) * {n_new_customers} "
            f"/ {int((day_end - day_start).total_seconds())})::bigint "
            f"else {signed_up_month_before} end"
        ),
        trend=1.0,
    )
    build_order_items(con, first_id=max_item + 1, quantity_factor=SHIFT_QUANTITY if shifted else 1)
    build_tickets(
        con,
        first_id=max_ticket + 1,
        n=n_tickets,
        order_pool=f"""
                      select order_id, customer_id, ordered_at from old_orders
                      where ordered_at >= {ts(day_start - dt.timedelta(days=10))}
                      union all
                      select order_id, customer_id, ordered_at from orders""",
        win_start=day_start,
        win_end=day_end,
        customers_before=max_customer,
        new_customers=n_new_customers,
    )
    build_events(
        con,
        n_browse=round(n_orders * BROWSE_SESSIONS_PER_ORDER),
        browse_key_base=day_no * 1_000_000_000,
        win_start=day_start,
        win_end=day_end,
        customers_before=max_customer,
        new_customers=n_new_customers,
        trend=1.0,
        first_event_id=max_event + 1,
    )

    as_of = ts(day_end)
    # customers: the new ones, and a few who changed today: most their marketing consent,
    # some their country (they moved), which the customers snapshot records as history
    moved = f"rnd2('a_cust_move', customer_id, {day_no}) < 0.3"
    new_country = pick([code for code, _ in COUNTRIES], f"rnd2('a_cust_to', customer_id, {day_no})")
    n_customer_rows = append_csv(
        con,
        f"""
        select customer_id, email, first_name, last_name, country, fmt_ts(signup_at) as signup_at,
            marketing_opt_in, fmt_ts(updated_at) as updated_at
        from (
            select * from customers
            union all
            select * replace (
                case when {moved} then {new_country} else country end as country,
                case when {moved} then marketing_opt_in else not marketing_opt_in end
                    as marketing_opt_in,
                {ts(day_start)} + secs(rnd2('a_cust_at', customer_id, {day_no}) * {86400 * days})
                    as updated_at)
            from old_customers
            where rnd2('a_cust_change', customer_id, {day_no}) < {min(1.0, 0.005 * days)}
        )
        order by updated_at, customer_id
    """,
        out / "customers.csv",
    )
    # orders: today's orders, and a new version of every order whose status moved today
    n_order_rows = append_csv(
        con,
        f"""
        with new_orders as (
            select s.*, t.shipping_cost
            from ({order_state_sql("orders", as_of)}) s
            join order_totals t using (order_id)
        ),
        moved as (
            select *
            from ({
            order_state_sql("(select * exclude (status, updated_at) from old_orders)", as_of)
        })
            where updated_at >= {ts(day_start)}
        )
        {orders_csv_sql("new_orders")}
        union all
        {orders_csv_sql("moved")}
        order by updated_at, order_id
    """,
        out / "orders.csv",
    )
    n_item_rows = append_csv(
        con,
        """
        select order_item_id, order_id, product_id, quantity, unit_price, discount
        from order_items order by order_item_id
    """,
        out / "order_items.csv",
    )
    # tickets: today's, and a new version of every open ticket closed today
    n_ticket_rows = append_csv(
        con,
        f"""
        select * from ({ticket_state_sql("tickets", as_of)})
        union all
        select * from ({ticket_state_sql("old_tickets", as_of)})
        where closed_at >= '{day_start:%Y-%m-%dT%H:%M:%S}'
          and ticket_id in (select ticket_id from old_tickets where closed_at is null)
        order by ticket_id
    """,
        out / "support_tickets.csv",
    )
    n_events = write_events(con, out, "gzip" if compression == "auto" else compression)
    last = day + dt.timedelta(days=days - 1)
    return {
        "day": day.isoformat() if days == 1 else f"{day.isoformat()}..{last.isoformat()}",
        "customer_rows": n_customer_rows,
        "order_rows": n_order_rows,
        "order_item_rows": n_item_rows,
        "ticket_rows": n_ticket_rows,
        "events": n_events,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).parent / "raw",
        help="output folder (default: data/raw next to this script)",
    )
    parser.add_argument("--rows", type=int, default=5000, help="number of orders (default 5000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--end-date",
        type=dt.date.fromisoformat,
        default=dt.date(2026, 10, 31),
        help="last day of data (default 2026-10-31)",
    )
    parser.add_argument("--days", type=int, default=180, help="days of orders (default 180)")
    parser.add_argument(
        "--events-compression",
        choices=["auto", "gzip", "zstd", "none"],
        default="auto",
        help="events file compression; auto (default): gzip up to "
        f"{GZIP_MAX_ROWS:,} orders, zstd above, where gzip would take "
        "most of the run time",
    )
    parser.add_argument(
        "--append-day",
        action="store_true",
        help="append the day after the latest day in --out instead",
    )
    parser.add_argument(
        "--append-days",
        type=int,
        metavar="N",
        help="append N normal days at once (e.g. 61, so that the churn labels of today's "
        "scores land: the churn horizon is 60 days)",
    )
    parser.add_argument(
        "--shifted",
        action="store_true",
        help=f"with --append-day: a shifted day ({SHIFT_ORDERS}x the orders, each line "
        f"{SHIFT_QUANTITY}x the quantity, {SHIFT_TICKETS:g} support ticket per customer) that "
        "the example's monitors must catch",
    )
    args = parser.parse_args(argv)
    if args.shifted and not args.append_day:
        parser.error("--shifted goes with --append-day")
    if args.append_days is not None and (args.append_days < 1 or args.append_day):
        parser.error("--append-days takes a number of days >= 1, without --append-day")
    if args.rows < 20 or args.days < 1:
        parser.error("--rows must be at least 20 and --days at least 1")

    started = time.perf_counter()
    appending = args.append_day or args.append_days is not None
    if args.events_compression == "auto" and not appending:
        args.events_compression = "gzip" if args.rows <= GZIP_MAX_ROWS else "zstd"
    if appending:
        counts = append_day(
            args.out, args.seed, args.events_compression, shifted=args.shifted,
            days=args.append_days or 1,
        )  # fmt: skip
    else:
        counts = generate(
            args.out, args.rows, args.seed, args.end_date, args.days, args.events_compression
        )
    summary = ", ".join(f"{k}={v}" for k, v in counts.items())
    print(f"wrote {args.out}: {summary} in {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
