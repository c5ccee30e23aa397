/* A set operation gets the ephemeral CTEs in front of it. */
select order_id from {{ ref('eph_orders') }}
union all
select order_id from {{ ref('orders') }}
