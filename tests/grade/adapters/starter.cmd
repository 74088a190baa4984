# the student track's starter (make -C labs/student): one backend
labs/student/proxy --listen {listen} --backend {backend}
