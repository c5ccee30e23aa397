select order_id from {{ ref('eph_orders') }}
