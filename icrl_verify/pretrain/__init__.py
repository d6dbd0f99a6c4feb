"""Multi-task TD pretraining of a linear transformer [W25a, Algorithm 1], many seeds as one batched program.

The library, one concern per module and imports only downward: ``config`` → ``data`` → ``model`` →
``metrics`` → ``evaluate`` → ``result`` → ``checkpoint`` → ``training``. The command ``icrl-verify pretrain``
is ``icrl_verify.pretrain.cli`` (not imported here) and its figures are ``icrl_verify.reports.pretrain``.
"""

from icrl_verify.pretrain.checkpoint import (
    CHECKPOINT_NAME,
    LOG_NAME,
    RUN_NAME,
    group_dir,
    has_checkpoint,
    load_checkpoint,
    read_run,
    save_checkpoint,
    save_result,
    write_log,
    write_run,
)
from icrl_verify.pretrain.config import DTYPES, TARGETS, PretrainConfig
from icrl_verify.pretrain.data import (
    EVAL_STREAM,
    INIT_STREAM,
    TRAIN_STREAM,
    HeldOutTasks,
    TaskTensors,
    TrainingTasks,
    held_out_tasks,
    prepare_tasks,
    rollouts,
    sample_task,
    sample_training_tasks,
    sliding_prompts,
    stream,
    trajectory_prompts,
)
from icrl_verify.pretrain.evaluate import MEAN_FIELDS, evaluate_function, held_out_predictions, log_record
from icrl_verify.pretrain.metrics import (
    FUNCTION_METRICS,
    WEIGHT_METRICS,
    FunctionMetrics,
    Interval,
    align_sign,
    function_metrics,
    t_interval,
    td_q_identity,
    weight_metrics,
)
from icrl_verify.pretrain.model import Parameters, initial_parameters, minibatch_loss, predicted_values, td_reference
from icrl_verify.pretrain.result import PretrainResult, merge_records, merge_results, per_seed
from icrl_verify.pretrain.training import ProgressCallback, WorkerStoppedError, seed_groups, train

__all__ = [
    "CHECKPOINT_NAME",
    "DTYPES",
    "EVAL_STREAM",
    "FUNCTION_METRICS",
    "INIT_STREAM",
    "LOG_NAME",
    "MEAN_FIELDS",
    "RUN_NAME",
    "TARGETS",
    "TRAIN_STREAM",
    "WEIGHT_METRICS",
    "FunctionMetrics",
    "HeldOutTasks",
    "Interval",
    "Parameters",
    "PretrainConfig",
    "PretrainResult",
    "ProgressCallback",
    "TaskTensors",
    "TrainingTasks",
    "WorkerStoppedError",
    "align_sign",
    "evaluate_function",
    "function_metrics",
    "group_dir",
    "has_checkpoint",
    "held_out_predictions",
    "held_out_tasks",
    "initial_parameters",
    "load_checkpoint",
    "log_record",
    "merge_records",
    "merge_results",
    "minibatch_loss",
    "per_seed",
    "predicted_values",
    "prepare_tasks",
    "read_run",
    "rollouts",
    "sample_task",
    "sample_training_tasks",
    "save_checkpoint",
    "save_result",
    "seed_groups",
    "sliding_prompts",
    "stream",
    "t_interval",
    "td_q_identity",
    "td_reference",
    "train",
    "trajectory_prompts",
    "weight_metrics",
    "write_log",
    "write_run",
]
