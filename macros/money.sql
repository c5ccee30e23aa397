{#- Amounts of money: raw text in, decimal(18, 2) out. -#}

{% macro parse_money(column) -%}
    cast(nullif(trim({{ column }}), '') as decimal(18, 2))
{%- endmacro %}

{% macro money(expression) -%}
    cast(round({{ expression }}, 2) as decimal(18, 2))
{%- endmacro %}
