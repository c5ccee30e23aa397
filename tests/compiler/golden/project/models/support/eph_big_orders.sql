{{ config(materialized='ephemeral') }}
select order_id from {{ ref('eph_orders') }} where amount > 100
