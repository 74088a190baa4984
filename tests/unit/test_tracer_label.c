/*
 * test_tracer_label.c - the label contract (tracer/label.h), case by case.
 */
#include "t.h"

#include "../../tracer/label.h"

static struct label L(enum conn_kind k, int dir, uint8_t flags, uint32_t len, bool hs_ack, bool acks_fin)
{
	struct label_in in = { k, dir, flags, len, hs_ack, acks_fin, false };
	return label_packet(&in);
}

static struct label refused(int dir, uint8_t flags, uint32_t len, bool acks_fin)
{
	struct label_in in = { CONN_CLIENT, dir, flags, len, false, acks_fin, true };
	return label_packet(&in);
}

TEST(the_client_handshake_is_step_1)
{
	CHECK_INT(L(CONN_CLIENT, UP, TH_SYN, 0, false, false).step, 1);
	CHECK_INT(L(CONN_CLIENT, DOWN, TH_SYN | TH_ACK, 0, false, false).step, 1);
	CHECK_INT(L(CONN_CLIENT, UP, TH_ACK, 0, true, false).step, 1);
}

TEST(the_backend_handshake_is_step_4)
{
	CHECK_INT(L(CONN_BACKEND, UP, TH_SYN, 0, false, false).step, 4);
	CHECK_INT(L(CONN_BACKEND, DOWN, TH_SYN | TH_ACK, 0, false, false).step, 4);
	CHECK_INT(L(CONN_BACKEND, UP, TH_ACK, 0, true, false).step, 4);
}

TEST(request_bytes_and_their_acks_are_step_2_and_5)
{
	CHECK_INT(L(CONN_CLIENT, UP, TH_PSH | TH_ACK, 78, false, false).step, 2);
	CHECK_INT(L(CONN_CLIENT, DOWN, TH_ACK, 0, false, false).step, 2);
	CHECK_INT(L(CONN_BACKEND, UP, TH_PSH | TH_ACK, 200, false, false).step, 5);
	CHECK_INT(L(CONN_BACKEND, DOWN, TH_ACK, 0, false, false).step, 5);
}

TEST(response_bytes_and_their_acks_are_step_6_and_7)
{
	CHECK_INT(L(CONN_BACKEND, DOWN, TH_PSH | TH_ACK, 144, false, false).step, 6);
	CHECK_INT(L(CONN_BACKEND, UP, TH_ACK, 0, false, false).step, 6);
	CHECK_INT(L(CONN_CLIENT, DOWN, TH_PSH | TH_ACK, 160, false, false).step, 7);
	CHECK_INT(L(CONN_CLIENT, UP, TH_ACK, 0, false, false).step, 7);
}

TEST(fin_and_its_ack_keep_the_side_step_and_are_marked_close)
{
	struct label l = L(CONN_CLIENT, UP, TH_FIN | TH_ACK, 0, false, false);
	CHECK_INT(l.step, 7);
	CHECK(l.close && !l.reset);
	l = L(CONN_CLIENT, DOWN, TH_ACK, 0, false, true);
	CHECK_INT(l.step, 7);
	CHECK(l.close);
	l = L(CONN_BACKEND, UP, TH_FIN | TH_ACK, 0, false, false);
	CHECK_INT(l.step, 6);
	CHECK(l.close);
	l = L(CONN_BACKEND, DOWN, TH_ACK, 0, false, true);
	CHECK_INT(l.step, 6);
	CHECK(l.close);
}

TEST(rst_is_close_and_reset_on_either_connection)
{
	struct label l = L(CONN_BACKEND, DOWN, TH_RST | TH_ACK, 0, false, false);
	CHECK_INT(l.step, 6);
	CHECK(l.close && l.reset);
	l = L(CONN_CLIENT, UP, TH_RST, 0, false, false);
	CHECK_INT(l.step, 7);
	CHECK(l.close && l.reset);
}

TEST(a_fin_with_bytes_is_labelled_by_its_bytes_and_marked_close)
{
	struct label l = L(CONN_CLIENT, UP, TH_FIN | TH_PSH | TH_ACK, 10, false, false);
	CHECK_INT(l.step, 2);
	CHECK(l.close);
	l = L(CONN_BACKEND, DOWN, TH_FIN | TH_PSH | TH_ACK, 10, false, false);
	CHECK_INT(l.step, 6);
	CHECK(l.close);
}

TEST(the_teardown_of_a_refused_client_connection_is_step_1)
{
	struct label l = refused(DOWN, TH_RST | TH_ACK, 0, false);
	CHECK_INT(l.step, 1);
	CHECK(l.close && l.reset);
	l = refused(DOWN, TH_FIN | TH_ACK, 0, false);
	CHECK_INT(l.step, 1);
	CHECK(l.close);
	l = refused(UP, TH_ACK, 0, true);
	CHECK_INT(l.step, 1);
	CHECK(l.close);
	/* the request it sent is still step 2 */
	CHECK_INT(refused(UP, TH_PSH | TH_ACK, 78, false).step, 2);
}

int main(void)
{
	RUN(the_client_handshake_is_step_1);
	RUN(the_backend_handshake_is_step_4);
	RUN(request_bytes_and_their_acks_are_step_2_and_5);
	RUN(response_bytes_and_their_acks_are_step_6_and_7);
	RUN(fin_and_its_ack_keep_the_side_step_and_are_marked_close);
	RUN(rst_is_close_and_reset_on_either_connection);
	RUN(a_fin_with_bytes_is_labelled_by_its_bytes_and_marked_close);
	RUN(the_teardown_of_a_refused_client_connection_is_step_1);
	return t_done();
}
