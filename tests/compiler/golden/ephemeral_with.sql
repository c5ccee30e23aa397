-- Ephemeral parents join the model's own WITH clause.
with big as (
    select order_id from {{ ref('eph_orders') }} where amount > 10
)
select order_id from big
