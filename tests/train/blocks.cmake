pretext_add_tests(pretext_train_blocks_tests
  SOURCES optimizer_test.cpp schedule_test.cpp gradient_clipping_test.cpp tensor_file_test.cpp metrics_log_test.cpp
    mixed_precision_test.cpp
  LIBS pretext_train_blocks)
