-- Experiment reports read every exposure of one experiment.
CREATE INDEX IF NOT EXISTS exposures_by_experiment ON exposures (app_id, live, experiment, variant);
