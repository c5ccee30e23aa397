-- Every version of each customer's country and marketing consent, as the daily exports saw
-- them: stg_customers keeps only the latest row, so without this the old ones are gone.
select
    customer_id,
    country_code,
    marketing_opt_in,
    updated_at
from {{ ref('stg_customers') }}
