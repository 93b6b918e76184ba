/* kafka_mock.c - librdkafka's mock Kafka cluster (3 brokers on 127.0.0.1) in its own
 * process, for the integration tests and benchmarks.
 *
 * Usage: kafka_mock [TOPIC:PARTITIONS ...]
 * Prints the bootstrap servers on stdout (one line, then stdout is closed), creates
 * the topics given (others auto-create with 4 partitions when a client asks), and runs
 * until SIGTERM or SIGINT.  Exit 0 on a signal, 1 when the cluster cannot start. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* the handle only hosts the mock cluster's thread; it never connects */
    /* the mock's brokers take their sockets' options from this conf: no Nagle, like
     * real Kafka (else responses wait for the client's delayed ACK, ~40 ms) */
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "socket.nagle.disable", "true", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka_mock: %s\n", errstr);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "kafka_mock: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 3);
    if (!mc) {
        fprintf(stderr, "kafka_mock: cannot start the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        char name[256];
        const char *colon = strrchr(argv[i], ':');
        int parts = colon ? atoi(colon + 1) : 1;
        size_t len = colon ? (size_t)(colon - argv[i]) : strlen(argv[i]);
        if (len == 0 || len >= sizeof name || parts < 1) {
            fprintf(stderr, "kafka_mock: bad topic '%s' (want NAME:PARTITIONS)\n", argv[i]);
            rd_kafka_mock_cluster_destroy(mc);
            rd_kafka_destroy(rk);
            return 1;
        }
        memcpy(name, argv[i], len);
        name[len] = 0;
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, parts, 1);
        if (err) fprintf(stderr, "kafka_mock: topic %s: %s\n", name, rd_kafka_err2str(err));
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    fclose(stdout);
    while (!stop) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
