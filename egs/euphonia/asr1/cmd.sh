# Jobs run on this machine.  Multi-GPU and multi-node training are ESPnet's own
# torch.distributed launch: pass --ngpu N (and --num_nodes, --asr_args
# "--multiprocessing_distributed true --dist_launcher slurm ...") to run.sh.
