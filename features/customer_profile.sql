-- What a customer told us at signup; known from signup_at on.
select
    customer_id,
    signup_at,
    coalesce(country_code, 'unknown') as country_code,
    coalesce(marketing_opt_in, false) as marketing_opt_in
from {{ ref('stg_customers') }}
