select count(*) as n from "warehouse"."main"."this_relation"
