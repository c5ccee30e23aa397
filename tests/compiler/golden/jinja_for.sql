select
{%- for country in var('countries') %}
    sum(case when country = '{{ country }}' then amount end) as amount_{{ country | lower }}
    {%- if not loop.last %},{% endif %}
{%- endfor %}
from {{ ref('orders') }}
