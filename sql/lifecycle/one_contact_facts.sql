-- The facts computed for one contact (explain).
select * from facts
