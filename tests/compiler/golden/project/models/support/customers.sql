select 7 as customer_id, 'Ada' as name
