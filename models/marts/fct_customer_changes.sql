-- One row per recorded change of a customer's country or marketing consent, read from the
-- customers snapshot: empty until a run sees a customer change (see data/generate.py
-- --append-day).
with versions as (
    select
        customer_id,
        country_code,
        marketing_opt_in,
        sqlml_valid_from,
        lag(country_code) over by_customer as previous_country_code,
        lag(marketing_opt_in) over by_customer as previous_marketing_opt_in,
        row_number() over by_customer as version
    from {{ ref('customers_snapshot') }}
    window by_customer as (partition by customer_id order by sqlml_valid_from)
)

select
    customer_id,
    version,
    sqlml_valid_from as changed_at,
    previous_country_code,
    country_code,
    previous_marketing_opt_in,
    marketing_opt_in,
    previous_country_code is distinct from country_code as country_changed,
    previous_marketing_opt_in is distinct from marketing_opt_in as marketing_opt_in_changed
from versions
where version > 1
