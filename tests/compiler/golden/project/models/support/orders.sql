select 1 as order_id, 7 as customer_id, 'NL' as country, 25.0 as amount
