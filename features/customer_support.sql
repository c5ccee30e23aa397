-- Each customer's support history as of each ticket they opened. Satisfaction is left out:
-- it is only known once a ticket is closed, not when it is opened.
select
    customer_id,
    opened_at,
    count(*) over history as tickets_to_date,
    count(*) filter (where priority = 'high') over history as high_priority_tickets_to_date,
    category as last_ticket_category
from {{ ref('stg_support_tickets') }}
where customer_id is not null
window history as (partition by customer_id order by opened_at rows unbounded preceding)
