{{ config(materialized='ephemeral') }}
select order_id, amount from {{ ref('orders') }}
