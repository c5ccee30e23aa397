-- One row per customer: the latest version in the raw export, cleaned.
with source as (
    select *
    from {{ source('shop_raw', 'customers') }}
),

latest as (
    select *
    from source
    qualify row_number() over (partition by customer_id order by updated_at desc) = 1
)

select
    customer_id,
    {{ clean_text('email') }} as email,
    nullif(trim(first_name), '') as first_name,
    nullif(trim(last_name), '') as last_name,
    upper(nullif(trim(country), '')) as country_code,
    signup_at,
    signup_at::date as signup_date,
    marketing_opt_in,
    updated_at
from latest
