{% macro cents(column) -%}
    ({{ column }} * 100)::bigint
{%- endmacro %}

{% macro orders_relation() -%}
    {{ ref('orders') }}
{%- endmacro %}
