select order_id
from {{ ref('orders') }}
{% if var('min_amount') > 5 -%}
where amount >= {{ var('min_amount') }}
{%- else -%}
where true
{%- endif %}
