-- Statement statistics for operators and benchmarks (where the database time
-- of a saga goes, issue #5): the library is preloaded by infra/postgres.sh.
-- Read it as the superuser: select calls, total_exec_time, query from
-- pg_stat_statements order by total_exec_time desc.
create extension if not exists pg_stat_statements;
