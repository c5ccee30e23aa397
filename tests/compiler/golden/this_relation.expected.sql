select count(*) as n from "main"."this_relation"
