select order_id
from {{ ref('orders') }}
where amount >= {{ var('min_amount') }}
  and order_id > {{ var('not_set', 0) }}
  and country <> '{{ var('excluded_country', default='XX') }}'
